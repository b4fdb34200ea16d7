"""Leave-one-dataset-out selection of the ranking's constants, and the confidence calibration.

Every configuration of `grid()` is scored on every development dataset (each at the labelled and at the
detected onset) from one preparation per case. The objective is the mean of AC@1 and Avg@5, averaged over
datasets and onset modes. For each dataset the configuration chosen on the *other* datasets gives its
left-out figure; the configuration chosen on all of them is the one that ships (`causal/config.py`) and
gives the in-sample figures. Ties go to the earlier configuration in grid order, which lists simpler
ones first (fewer scores, no PC, no graph). The grid: PC off/on x 8 graph uses (none, `dep`, `down` with
tolerance 0.1 or 0.25, each with or without inferring metric-less components) x 9 score sets x 2
aggregations (RRF k=1, mean rank) x 2 relative floors (0.05, 0.1) x 2 zero-scale rules = 1,152. (An earlier
grid also had RRF k=5 and no floor; neither was chosen on any split, and they were dropped to keep a run
within minutes on 2 cores.)

The confidence (`causal.confidence`) is a logistic fit of top-1 correctness on the ranking's features,
fitted on the synthetic cases; calibration tables compare predicted buckets with observed top-1 accuracy
on every dataset.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from causal.aggregate import MethodConfig, fuse_matrix, magnitude, values
from causal.case import Case
from causal.confidence import features
from causal.pipeline import Prepared, prepare
from causal.scores import SCORES, ZERO_SCALES
from evals.rca import metrics, rank_of

MODES = ("exact", "detect")
SCORE_SETS: tuple[tuple[str, ...], ...] = (
    ("baro",), ("nsigma",), ("sustained",), ("shift",),
    ("nsigma", "baro"), ("baro", "shift"), ("nsigma", "baro", "shift"), ("baro", "sustained", "shift"),
    ("nsigma", "baro", "sustained", "shift"),
)


def grid() -> list[MethodConfig]:
    """Simpler configurations first (no PC, no graph, fewer scores): ties go to them."""
    graph_uses = (("none", 0.0, 0.0), ("none", 0.5, 0.0), ("dep", 0.0, 0.0), ("dep", 0.5, 0.0),
                  ("down", 0.0, 0.1), ("down", 0.5, 0.1), ("down", 0.0, 0.25), ("down", 0.5, 0.25))
    out = []
    for causal, graph_use, scores, agg, floor, zero in itertools.product(
        (False, True), graph_uses, SCORE_SETS, (("rrf", 1.0), ("mean_rank", 0.0)), (0.05, 0.1), ZERO_SCALES,
    ):
        out.append(MethodConfig(scores=scores, aggregation=agg[0], rrf_k=agg[1] or 1.0, rel_floor=floor,
                                zero_scale=zero, graph=graph_use[0], causal=causal, infer=graph_use[1],
                                down_tol=graph_use[2] or 0.2))
    return out


@dataclass
class Run:
    """One case at one onset mode, prepared once."""

    dataset: str
    mode: str
    truth: str
    prepared: Prepared


def order(p: Prepared, cfg: MethodConfig) -> tuple[list[str], dict[str, float]]:
    """The service ranking of a prepared case under `cfg` (no explanation paths), and its confidence features."""
    case = p.case
    comps, cols = p.score_matrix(cfg.rel_floor, cfg.scores, cfg.zero_scale)
    explained: set[str] = set()
    if cfg.causal:
        d = p.discovered()
        explained = (d.tested_components() - d.component_roots()) if d.ran else set()
    mag = dict(zip(comps, magnitude(cols), strict=True)) if cfg.graph == "down" else None
    value, _ = values(dict(zip(comps, fuse_matrix(cols, cfg), strict=True)), p.graph, cfg, explained, mag)
    ranked: list[tuple[str, float]] = []
    seen: set[str] = set()
    for c, v in sorted(value.items(), key=lambda kv: (-kv[1], kv[0])):
        s = case.service(c)
        if s not in seen:
            seen.add(s)
            ranked.append((s, v))
    names, everything = p.score_matrix(cfg.rel_floor, SCORES, cfg.zero_scale)
    feats = features(names, everything, ranked[0][0] if ranked else None, {c: case.service(c) for c in names})
    return [s for s, _ in ranked], feats


def prepare_runs(datasets: Mapping[str, Sequence[Case]], modes: Sequence[str] = MODES,
                 progress: Callable[[str], None] | None = None) -> list[Run]:
    runs = []
    for name, cases in datasets.items():
        for mode in modes:
            for c in cases:
                if c.root_cause is None:
                    continue
                if c.onset is None and mode == "exact":
                    continue
                p = prepare(c, detect=mode == "detect")
                runs.append(Run(name, mode, c.service(c.root_cause), p))
                if progress is not None:
                    progress(f"{name}/{mode}")
    return runs


def _visible(r: Run) -> bool:
    return not r.prepared.case.meta.get("code_level")


def evaluate(runs: Sequence[Run], configs: Sequence[MethodConfig],
             progress: Callable[[int], None] | None = None) -> dict[tuple[int, str, str], dict[str, float]]:
    """{(config index, dataset, mode): metrics} over the metric-visible cases."""
    out: dict[tuple[int, str, str], dict[str, float]] = {}
    groups: dict[tuple[str, str], list[Run]] = {}
    for r in runs:
        if _visible(r):
            groups.setdefault((r.dataset, r.mode), []).append(r)
    for i, cfg in enumerate(configs):
        for (ds, mode), rs in groups.items():
            ranks = [rank_of(order(r.prepared, cfg)[0], r.truth) for r in rs]
            out[(i, ds, mode)] = metrics(ranks, [0.0] * len(ranks))
        if progress is not None:
            progress(i)
    return out


def objective(table: dict[tuple[int, str, str], dict[str, float]], i: int, datasets: Sequence[str],
              modes: Sequence[str]) -> float:
    vals = [(table[(i, d, m)]["ac1"] + table[(i, d, m)]["avg5"]) / 2 for d in datasets for m in modes
            if (i, d, m) in table]
    return float(np.mean(vals)) if vals else -math.inf


def choose(table: dict[tuple[int, str, str], dict[str, float]], n_configs: int, datasets: Sequence[str],
           modes: Sequence[str]) -> int:
    best, best_v = 0, -math.inf
    for i in range(n_configs):
        v = objective(table, i, datasets, modes)
        if v > best_v + 1e-12:
            best, best_v = i, v
    return best


def lodo(table: dict[tuple[int, str, str], dict[str, float]], configs: Sequence[MethodConfig],
         datasets: Sequence[str], modes: Sequence[str]) -> dict[str, Any]:
    """The shipped choice (all datasets) and, per dataset, the choice made without it and both figures."""
    shipped = choose(table, len(configs), datasets, modes)
    out: dict[str, Any] = {"shipped": asdict(configs[shipped]), "shipped_label": configs[shipped].label(),
                           "datasets": {}}
    for d in datasets:
        others = [x for x in datasets if x != d]
        left = choose(table, len(configs), others, modes)
        out["datasets"][d] = {
            "chosen_without": configs[left].label(),
            "modes": {m: {"left_out": table.get((left, d, m)), "in_sample": table.get((shipped, d, m)),
                          "best_possible": max((table[(i, d, m)] for i in range(len(configs)) if (i, d, m) in table),
                                               key=lambda r: (r["ac1"] + r["avg5"]) / 2, default=None)}
                      for m in modes},
        }
    return out
