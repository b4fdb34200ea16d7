"""Rank aggregation of the simple scores into one value per component, the graph as a prior, and the
features the confidence is read from.

value(c) = agg(c) * w_dep(c) * w_causal(c)
  agg(c)      reciprocal-rank fusion of the component's rank under each score, mean over scores of
              1 / (rrf_k + rank), or the mean rank turned into (0, 1] (`mean_rank`);
  w_dep(c)    (graph `dep`) 1 when no dependency of c (a component it calls) has a higher agg, else
              agg(c) / max agg(dep): a caller is slow because its callee is;
  w_causal(c) (causal on) `explained` when PC tested c and separated all its metrics from the fault node.
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
GRAPH_USES = ("none", "dep")


@dataclass(frozen=True)
class MethodConfig:
    """Every constant of the ranking; the shipped values are chosen by leave-one-dataset-out (causal.config)."""

    scores: tuple[str, ...] = ("nsigma", "baro", "sustained", "shift")
    aggregation: str = "rrf"
    rrf_k: float = 1.0
    rel_floor: float = 0.0
    graph: str = "dep"
    causal: bool = True
    explained: float = 0.5
    infer: float = 0.5

    def label(self) -> str:
        return (f"scores={'+'.join(self.scores)} agg={self.aggregation}"
                + (f"(k={self.rrf_k:g})" if self.aggregation == "rrf" else "")
                + f" floor={self.rel_floor:g} graph={self.graph} pc={'on' if self.causal else 'off'}"
                + (f" explained={self.explained:g}" if self.causal else "") + f" infer={self.infer:g}")


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
    magnitude = np.log1p(np.nan_to_num(np.maximum(cols, 0.0))).mean(axis=1)
    tie = magnitude / (1.0 + magnitude.max()) if n else magnitude
    return agg + 1e-9 * tie


def fuse(comp: pd.DataFrame, cfg: MethodConfig) -> pd.Series:
    """agg(c) for every component (rows of `comp`, one column per score)."""
    return pd.Series(fuse_matrix(comp[list(cfg.scores)].to_numpy(dtype=float), cfg), index=comp.index)


def values(agg: pd.Series | dict[str, float], graph: nx.DiGraph | None, cfg: MethodConfig,
           explained: set[str]) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """(final value per component, the factors behind each) including inferred metric-less components."""
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
    if graph is not None and cfg.infer > 0:
        for m in graph.nodes():
            if m in a:
                continue
            callers = [out[p] for p in graph.predecessors(m) if p in out]
            if callers:
                out[m] = cfg.infer * max(callers)
                factors[m] = {"fused": 0.0, "inferred_from_callers": out[m]}
    return out, factors


def confidence_features(comp: pd.DataFrame | tuple[list[str], np.ndarray], cfg: MethodConfig,
                        ranked: list[tuple[str, float]], service_of: dict[str, str]) -> dict[str, float]:
    """`agree`: share of the scores whose own top service is the final top one; `margin`: relative gap
    between the first and second service's values."""
    if not ranked:
        return {"agree": 0.0, "margin": 0.0}
    top = ranked[0][0]
    tops = []
    if isinstance(comp, pd.DataFrame):
        names, cols = [str(c) for c in comp.index], comp[list(cfg.scores)].to_numpy(dtype=float)
    else:
        names, cols = comp
    if names:
        for j in np.argmax(cols, axis=0):
            tops.append(service_of.get(names[int(j)], names[int(j)]))
    agree = sum(t == top for t in tops) / len(tops) if tops else 0.0
    v1 = ranked[0][1]
    v2 = ranked[1][1] if len(ranked) > 1 else 0.0
    margin = (v1 - v2) / v1 if v1 > 0 else 0.0
    return {"agree": float(agree), "margin": float(max(0.0, margin))}
