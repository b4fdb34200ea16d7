"""Rank aggregation of the simple scores into one value per component, the graph as a prior, and the
features the confidence is read from.

value(c) = agg(c) * w_dep(c) * w_causal(c)
  agg(c)      reciprocal-rank fusion of the component's rank under each score, mean over scores of
              1 / (rrf_k + rank), or the mean rank turned into (0, 1] (`mean_rank`);
  w_dep(c)    (graph `dep`) 1 when no dependency of c (a component it calls) has a higher agg, else
              agg(c) / max agg(dep): a caller is slow because its callee is;
  w_causal(c) (causal on) `explained` when PC tested c and separated all its metrics from the fault node.
Graph `down` is a tie-breaker instead: when a callee's anomaly magnitude (mean log(1 + score)) is at least
(1 - `down_tol`) of c's, c's value is put just below that callee's (callees first, so a chain resolves to
its deepest similarly anomalous member): near-equal anomalies on a caller and its callee point at the callee.
Components with no metrics that the call graph names get `infer` x the best value among their callers
(0: listed last): a store nobody measures can still be the cause its callers point at.
Ties are broken by the mean log-magnitude of the scores.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np
import pandas as pd
from scipy.stats import rankdata

AGGREGATIONS = ("rrf", "mean_rank")
GRAPH_USES = ("none", "dep", "down")
ANOMALOUS_LOG = float(np.log1p(3.0))  # a callee must be at least this anomalous to take the blame


@dataclass(frozen=True)
class MethodConfig:
    """Every constant of the ranking; the shipped values are chosen by leave-one-dataset-out (causal.config)."""

    scores: tuple[str, ...] = ("nsigma", "baro", "sustained", "shift")
    aggregation: str = "rrf"
    rrf_k: float = 1.0
    rel_floor: float = 0.0
    zero_scale: str = "spread"
    graph: str = "dep"
    causal: bool = True
    explained: float = 0.5
    infer: float = 0.5
    down_tol: float = 0.2

    def label(self) -> str:
        return (f"scores={'+'.join(self.scores)} agg={self.aggregation}"
                + (f"(k={self.rrf_k:g})" if self.aggregation == "rrf" else "")
                + f" floor={self.rel_floor:g} zero={self.zero_scale} graph={self.graph}"
                + (f"(tol={self.down_tol:g})" if self.graph == "down" else "") + f" pc={'on' if self.causal else 'off'}"
                + (f" explained={self.explained:g}" if self.causal else "") + f" infer={self.infer:g}")


def magnitude(cols: np.ndarray) -> np.ndarray:
    """Mean log(1 + score) per row: how anomalous a component is, on a scale comparable across components."""
    return np.log1p(np.nan_to_num(np.maximum(cols, 0.0))).mean(axis=1) if len(cols) else np.zeros(0)


def fuse_matrix(cols: np.ndarray, cfg: MethodConfig) -> np.ndarray:
    """agg per row of `cols` (components x the configuration's scores, in `cfg.scores` order)."""
    ranks = rankdata(-cols, axis=0, method="average") if len(cols) else cols
    n = len(cols)
    if cfg.aggregation == "rrf":
        agg = (1.0 / (cfg.rrf_k + ranks)).mean(axis=1)
    elif cfg.aggregation == "mean_rank":
        agg = 1.0 - (ranks.mean(axis=1) - 1.0) / max(n, 1)
    else:
        raise ValueError(f"aggregation: got {cfg.aggregation!r}; allowed: {', '.join(AGGREGATIONS)}")
    mag = magnitude(cols)
    tie = mag / (1.0 + mag.max()) if n else mag
    return agg + 1e-9 * tie


def fuse(comp: pd.DataFrame, cfg: MethodConfig) -> pd.Series:
    """agg(c) for every component (rows of `comp`, one column per score)."""
    return pd.Series(fuse_matrix(comp[list(cfg.scores)].to_numpy(dtype=float), cfg), index=comp.index)


def values(agg: pd.Series | dict[str, float], graph: nx.DiGraph | None, cfg: MethodConfig,
           explained: set[str], mag: dict[str, float] | None = None,
           ) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """(final value per component, the factors behind each) including inferred metric-less components;
    `mag` (component -> magnitude) is needed for graph `down`."""
    a = {str(c): float(v) for c, v in agg.items()}
    w_causal = {c: (cfg.explained if cfg.causal and c in explained else 1.0) for c in a}
    out: dict[str, float] = {}
    factors: dict[str, dict[str, float]] = {}
    g = graph if cfg.graph == "dep" else None
    for c, v in a.items():
        deps = [a.get(d, 0.0) * w_causal.get(d, 1.0) for d in (g.successors(c) if g is not None and c in g else ())]
        worst = max(deps, default=0.0)
        w_dep = 1.0 if worst <= v or v <= 0 else v / worst
        out[c] = v * w_dep * w_causal[c]
        factors[c] = {"fused": v, "dependencies": w_dep, "causal": w_causal[c]}
    if cfg.graph == "down" and graph is not None and mag:
        _downstream(out, factors, graph, mag, cfg.down_tol)
    if graph is not None and cfg.infer > 0:
        for m in graph.nodes():
            if m in a:
                continue
            callers = [out[p] for p in graph.predecessors(m) if p in out]
            if callers:
                out[m] = cfg.infer * max(callers)
                factors[m] = {"fused": 0.0, "inferred_from_callers": out[m]}
    return out, factors


def _downstream(out: dict[str, float], factors: dict[str, dict[str, float]], graph: nx.DiGraph,
                mag: dict[str, float], tol: float) -> None:
    """Put each caller just below its most valued callee whose magnitude is within `tol` of its own."""
    nodes = [n for n in graph.nodes() if n in out]
    sub = graph.subgraph(nodes)
    order = list(reversed(list(nx.topological_sort(sub)))) if nx.is_directed_acyclic_graph(sub) else nodes
    for c in order:  # callees before their callers
        m_c = mag.get(c, 0.0)
        blamed = [out[d] for d in sub.successors(c)
                  if mag.get(d, 0.0) >= max((1.0 - tol) * m_c, ANOMALOUS_LOG)]
        if blamed and max(blamed) <= out[c]:
            out[c] = max(blamed) * (1.0 - 1e-6)
            factors[c]["downstream"] = 1.0
