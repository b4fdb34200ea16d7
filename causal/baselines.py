"""The published baselines, run on the same cases and onsets as the method.

- `random`: a random order of the services (seeded by the case name, so runs repeat).
- `nsigma`: per metric, the largest standardised value after the onset, (x - mean) / std of the rows
  before it; services ordered by their best metric (RCAEval's NSigma: signed maximum, a zero scale
  counts as 1, as scikit-learn's scalers do).
- `baro`: the same with median and interquartile range (BARO's root-cause ranking, robust scaling).
- `pc_pagerank`: PC (pgmpy, Pearson partial-correlation test, alpha 0.05) over every metric of the window,
  then PageRank on the reversed learned graph (effects hand their rank to their causes); services ordered
  by their best metric. The conditioning depth is capped (`PC_MAX_COND`) to keep it tractable, and cases with
  more than `PC_MAX_COMPONENTS` components or `PC_MAX_METRICS` varying metrics are not applicable
  (`NotApplicable`, reported as n/a with the reason).
"""

from __future__ import annotations

import logging
import warnings
import zlib
from collections.abc import Callable

import networkx as nx
import numpy as np
import pandas as pd

from causal.anomaly import prepare
from causal.case import Case

PC_MAX_COND = 2
PC_MAX_ROWS = 600
PC_MAX_COMPONENTS = 40  # beyond this PC over every metric takes minutes per case on 2 cores
PC_MAX_METRICS = 170  # nor more varying metrics than this (Nezha-OB has up to 167; more: minutes per case)


class NotApplicable(Exception):
    """A baseline that cannot run on this case (the reason is the message)."""
_EPS = 10 * np.finfo(float).eps


def _services_by(case: Case, ranked_columns: list[tuple[str, str]]) -> list[str]:
    out: list[str] = []
    for comp, _ in ranked_columns:
        s = case.service(comp)
        if s not in out:
            out.append(s)
    for s in case.all_services:  # services with no varying metric (or none at all) go last
        if s not in out:
            out.append(s)
    return out


def _split(case: Case, onset: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    table = prepare(case.metrics)
    t = table.index.to_numpy(dtype=float)
    pre, post = table[t < onset], table[t >= onset]
    if len(pre) < 2:
        pre, post = table.iloc[:2], table.iloc[2:]
    return pre, post


def random_ranking(case: Case, onset: float) -> list[str]:
    rng = np.random.default_rng(zlib.crc32(case.name.encode()))
    services = sorted(case.all_services)
    rng.shuffle(services)
    return services


def _scaled_max(case: Case, onset: float, robust: bool) -> list[str]:
    pre, post = _split(case, onset)
    if robust:
        centre = pre.median()
        scale = pre.quantile(0.75) - pre.quantile(0.25)
    else:
        centre = pre.mean()
        scale = pre.std(ddof=0)
    scale = scale.where(scale >= _EPS, 1.0)
    score = ((post - centre) / scale).max()
    ranked = score.sort_values(ascending=False, kind="stable").index.tolist()
    return _services_by(case, ranked)


def nsigma(case: Case, onset: float) -> list[str]:
    return _scaled_max(case, onset, robust=False)


def baro(case: Case, onset: float) -> list[str]:
    return _scaled_max(case, onset, robust=True)


def pc_pagerank(case: Case, onset: float) -> list[str]:
    from pgmpy.causal_discovery import PC

    from causal.citest import FastPearsonr

    if len(case.components) > PC_MAX_COMPONENTS:
        raise NotApplicable(f"PC over every metric of {len(case.components)} components (> {PC_MAX_COMPONENTS}) "
                            "does not finish in minutes on 2 cores")
    table = prepare(case.metrics)
    if table.shape[1] > PC_MAX_METRICS:
        raise NotApplicable(f"PC over {table.shape[1]} varying metrics (> {PC_MAX_METRICS}) takes minutes per case "
                            "on 2 cores")
    step = max(1, len(table) // PC_MAX_ROWS)
    data = table.iloc[::step]
    cols = list(data.columns)
    frame = pd.DataFrame(data.to_numpy(), columns=[f"v{i}" for i in range(len(cols))])
    logging.getLogger("pgmpy").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pc = PC(variant="stable", ci_test=FastPearsonr(frame), significance_level=0.05, max_cond_vars=PC_MAX_COND,
                show_progress=False).fit(frame)
    g = nx.DiGraph()
    g.add_nodes_from(frame.columns)
    g.add_edges_from(pc.causal_graph_.edges())  # undirected edges appear both ways
    rank = nx.pagerank(g.reverse(copy=True))
    order = sorted(frame.columns, key=lambda v: -rank.get(v, 0.0))
    return _services_by(case, [cols[int(v[1:])] for v in order])


BASELINES: dict[str, Callable[[Case, float], list[str]]] = {
    "random": random_ranking,
    "nsigma": nsigma,
    "baro": baro,
    "pc_pagerank": pc_pagerank,
}
