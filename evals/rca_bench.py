"""`keel bench rca`: seconds per analysis and AC@1 as the system grows.

For each size: layered topologies of that many services (`evals.rca_synthetic.topologies`, depth growing
with the size, 2-8 layers), one fault each, simulated, then the analysis exactly as the tool runs it (onset
detected, shipped configuration). Reports the median seconds and AC@1 per size and the growth exponent
(slope of log median seconds over log size).
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass

import numpy as np

from causal.pipeline import analyse
from evals.rca_synthetic import cases as synth
from evals.rca_synthetic.topologies import generate as generate_topology
from tools.topology import topology_from_dict


@dataclass
class SizeResult:
    services: int
    runs: int
    median_s: float
    ac1: float


def depth_for(size: int) -> int:
    return int(min(8, max(2, round(math.log2(max(size, 2))))))


def run_size(size: int, repeats: int, seed: int) -> SizeResult:
    seconds: list[float] = []
    hits = 0
    for r in range(repeats):
        topo = topology_from_dict(generate_topology(size, depth_for(size), seed=seed + r), f"bench {size}/{r}")
        case = synth.case_on(topo, seed * 1000 + r)
        t0 = time.perf_counter()
        result = analyse(case, detect=True)
        seconds.append(time.perf_counter() - t0)
        hits += bool(result.services()) and result.services()[0] == case.root_cause
    return SizeResult(size, repeats, statistics.median(seconds), hits / repeats)


def growth_exponent(results: list[SizeResult]) -> float:
    pts = [(math.log(r.services), math.log(r.median_s)) for r in results if r.runs and r.median_s > 0]
    if len(pts) < 2:
        return math.nan
    x, y = np.array(pts).T
    return float(np.polyfit(x, y, 1)[0])
