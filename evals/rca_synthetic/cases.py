"""The synthetic RCA benchmark: labelled incidents generated with the simulator, one seeded spec per case.

Each case draws a layered random topology (`evals.rca_synthetic.topologies`: 10-200 services, log-uniform,
2-8 layers, in the topology file format, run by the simulator as `Simulator(topology=...)`), then: a fault
(every type, intensity uniform in [0.1, 1]) on a random service; red herrings
(a harmless deploy, a second mild fault of another type elsewhere, a short traffic rise elsewhere); extra
measurement noise; missing metrics (columns dropped, scattered gaps, sometimes every metric of one service,
which then appears only in the call graph); a sampling step of 1-5 minutes (the simulator steps one minute:
coarser rows are means over each step, as a rate over the interval is; nothing is interpolated); and a
window of 30-120 minutes before the onset and 10-40 after it (at least two rows after the onset).
The label is the faulty service and the fault's first minute.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import networkx as nx
import numpy as np

from causal.case import Case, frame
from evals.rca_synthetic.topologies import generate as generate_topology
from tools.backends.sim.cluster import Simulator
from tools.backends.sim.faults import FAULT_TYPES, Fault
from tools.backends.sim.load import LoadCurve
from tools.backends.sim.model import METRIC_NAMES
from tools.topology import Topology, topology_from_dict

SIZES = (10, 200)  # services, drawn log-uniformly
DEPTHS = (2, 8)  # layers
SAMPLING_MIN = (1, 2, 3, 5)
PRE_MIN = (30, 60, 120)
POST_MIN = (10, 15, 25, 40)
NOISE = (0.0, 0.02, 0.05, 0.1)
DROP_SHARE = (0.0, 0.1, 0.25)
EPOCH0 = 1_760_000_000.0


@dataclass
class Spec:
    """Everything one case is generated from."""

    seed: int
    fault: str
    service: str
    intensity: float
    start: int  # minute the fault starts (the onset)
    pre: int
    post: int
    sampling: int
    noise: float
    drop_share: float
    dark_service: str | None  # a service whose metrics are all missing
    load: str
    peak_rps: float
    herrings: list[dict[str, Any]] = field(default_factory=list)
    topology: str = ""
    size: int = 0
    depth: int = 0
    topology_seed: int = 0


def topology_for(seed: int) -> Topology:
    """The case's topology: size log-uniform in SIZES, depth uniform in DEPTHS (at most the size)."""
    rng = np.random.default_rng(seed + 9_000_000)
    size = int(round(np.exp(rng.uniform(np.log(SIZES[0]), np.log(SIZES[1])))))
    depth = int(rng.integers(DEPTHS[0], DEPTHS[1] + 1))
    return topology_from_dict(generate_topology(size, min(depth, size), seed=seed), f"generated topology {seed}")


def draw(seed: int, topo: Topology) -> Spec:
    services, graph = list(topo.names), topo.call_graph()
    rng = np.random.default_rng(seed)
    types = list(FAULT_TYPES)
    fault = types[seed % len(types)]  # every type in turn
    service = services[int(rng.integers(len(services)))]
    others = [s for s in services if s != service]
    pre = int(rng.choice(PRE_MIN))
    sampling = int(rng.choice(SAMPLING_MIN))
    post = int(max(int(rng.choice(POST_MIN)), 2 * sampling))
    start = pre + int(rng.integers(0, 60))
    herrings: list[dict[str, Any]] = []
    if rng.random() < 0.5:
        herrings.append({"kind": "deploy", "service": others[int(rng.integers(len(others)))],
                         "minute": start + int(rng.integers(-10, 5))})
    if rng.random() < 0.35:
        kind = types[int(rng.integers(len(types)))]
        while kind == fault:
            kind = types[int(rng.integers(len(types)))]
        herrings.append({"kind": "mild_fault", "type": kind, "service": others[int(rng.integers(len(others)))],
                         "minute": start + int(rng.integers(-15, 10)), "intensity": float(rng.uniform(0.05, 0.25))})
    if rng.random() < 0.35:
        herrings.append({"kind": "traffic_rise", "service": others[int(rng.integers(len(others)))],
                         "minute": start + int(rng.integers(-15, 10)), "minutes": int(rng.integers(2, 6)),
                         "intensity": float(rng.uniform(0.3, 0.8))})
    dark = others[int(rng.integers(len(others)))] if rng.random() < 0.1 else None
    if dark is None and rng.random() < 0.03:
        dark = service  # the root cause itself unmeasured: only the graph can point at it
    return Spec(
        seed=seed, fault=fault, service=service, intensity=float(np.round(rng.uniform(0.1, 1.0), 3)), start=start,
        pre=pre, post=post, sampling=sampling, noise=float(rng.choice(NOISE)),
        drop_share=float(rng.choice(DROP_SHARE)), dark_service=dark,
        load="diurnal" if rng.random() < 0.5 else "bursty", peak_rps=float(np.round(rng.uniform(150, 450))),
        herrings=herrings, topology=topo.name, size=len(services),
        depth=int(nx.dag_longest_path_length(graph)) + 1, topology_seed=seed,
    )


def _simulate(spec: Spec, topo: Topology) -> np.ndarray:
    """Minutes [0, start + post) of the simulator: [minute, service, metric]."""
    load = (LoadCurve.diurnal(spec.peak_rps, seed=spec.seed) if spec.load == "diurnal"
            else LoadCurve.bursty(spec.peak_rps, seed=spec.seed))
    faults = [Fault(spec.fault, spec.service, spec.start, spec.post + 60, spec.intensity)]
    for h in spec.herrings:
        at = max(1, int(h["minute"]))
        if h["kind"] == "mild_fault":
            faults.append(Fault(h["type"], h["service"], at, spec.post + 60, h["intensity"]))
        elif h["kind"] == "traffic_rise":
            faults.append(Fault("traffic_spike", h["service"], at, int(h["minutes"]), h["intensity"]))
    sim = Simulator(load, faults, seed=spec.seed, topology=topo)
    for h in spec.herrings:
        if h["kind"] == "deploy":
            sim.schedule_deploy(h["service"], max(0, int(h["minute"])))
    sim.run_until(spec.start + spec.post)
    return sim.history.copy()


def build(spec: Spec, topo: Topology) -> Case:
    services = list(topo.names)
    graph = topo.call_graph()
    hist = _simulate(spec, topo)
    rng = np.random.default_rng(spec.seed + 7_000_000)
    lo = spec.start - spec.pre
    window = hist[lo:]
    k = spec.sampling
    rows = len(window) // k
    offset = len(window) - rows * k  # drop the oldest partial step so the newest row is complete
    blocks = window[offset:].reshape(rows, k, *window.shape[1:]).mean(axis=1)
    times = EPOCH0 + 60.0 * (lo + offset + k * np.arange(rows))
    if spec.noise > 0:
        blocks = blocks * (1.0 + spec.noise * rng.standard_normal(blocks.shape))
    cols: dict[tuple[str, str], np.ndarray] = {}
    for i, s in enumerate(services):
        if s == spec.dark_service:
            continue
        for j, m in enumerate(METRIC_NAMES):
            if rng.random() < spec.drop_share:
                continue
            col = blocks[:, i, j].copy()
            gaps = rng.random(rows) < 0.03 * (spec.drop_share > 0)
            col[gaps] = np.nan
            cols[(s, m)] = col
    return Case(
        name=f"synthetic-{spec.seed:05d}-{spec.fault}-{spec.service}",
        metrics=frame(cols, times),
        root_cause=spec.service,
        onset=EPOCH0 + 60.0 * spec.start,
        fault=spec.fault,
        graph=graph,
        dataset="synthetic",
        meta={"spec": asdict(spec)},
    )


def case_on(topo: Topology, seed: int) -> Case:
    """One case on a given topology (benchmarks pick the size)."""
    return build(draw(seed, topo), topo)


def generate(seed: int, cases: int) -> list[Case]:
    """`cases` cases from the seeds seed*100000 + 0..cases-1 (a run is repeatable from --seed), each on its own
    generated topology."""
    out = []
    for i in range(cases):
        s = seed * 100_000 + i
        topo = topology_for(s)
        out.append(build(draw(s, topo), topo))
    return out
