"""Causal discovery over the most anomalous metrics with pgmpy's PC, with the fault as an intervention node.

The variables are the top anomalous metrics (robust z over the whole window) plus an indicator `F` that is
0 before the onset and 1 after it: the fault acts as an intervention on the system. A metric that stays
dependent on `F` whatever else is conditioned on is a direct effect of the fault (a root-cause metric);
a metric separated from `F` by another metric is a downstream symptom (the idea of RCD's F-node). Edges
between metrics of components that are neither the same nor adjacent in the service graph are forbidden.
Edges touching `F` point away from it; other undirected edges are oriented away from `F`
(the metric nearer the fault in the skeleton is the cause), then by anomaly size.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import pandas as pd

from causal.anomaly import MetricScore, Scores
from causal.graph import adjacent

FAULT = "F"
ALPHA = 0.05
MAX_COND = 2
PER_COMPONENT = 2
MAX_COMPONENTS = 6
MAX_ROWS = 600

Node = tuple[str, str]


@dataclass
class Discovery:
    """The learned structure over the selected metrics."""

    nodes: list[Node]
    fault_children: set[Node] = field(default_factory=set)  # metrics adjacent to F
    effects: nx.DiGraph = field(default_factory=nx.DiGraph)  # cause -> effect over metrics (and F)
    ran: bool = False
    error: str | None = None

    def component_roots(self) -> set[str]:
        return {c for c, _ in self.fault_children}

    def tested_components(self) -> set[str]:
        return {c for c, _ in self.nodes}


def select(scores: Scores, component_rank: list[str]) -> list[MetricScore]:
    """The top metrics of the most anomalous components (a few per component)."""
    by_comp = scores.by_component()
    chosen: list[MetricScore] = []
    for c in component_rank[:MAX_COMPONENTS]:
        chosen.extend(by_comp.get(c, [])[:PER_COMPONENT])
    return chosen


def warm_up() -> None:
    """Import pgmpy now (it imports torch: seconds on a small machine) so the first analysis does not pay it."""
    import pgmpy.causal_discovery  # noqa: F401


def _name(n: Node) -> str:
    return f"{n[0]}|{n[1]}"


def discover(scores: Scores, selected: list[MetricScore], graph: nx.DiGraph | None) -> Discovery:
    """Run PC on the selected metrics plus F; never raises (failures come back in `error`)."""
    nodes: list[Node] = [(m.component, m.metric) for m in selected]
    out = Discovery(nodes=nodes)
    if len(nodes) < 2:
        out.error = "fewer than two anomalous metrics"
        return out
    z = scores.z.loc[:, nodes]
    t = z.index.to_numpy(dtype=float)
    fault = (t >= scores.onset).astype(float)
    if fault.min() == fault.max():
        out.error = "the onset leaves no rows on one side"
        return out
    step = max(1, len(z) // MAX_ROWS)
    data = pd.DataFrame(z.to_numpy()[::step], columns=[_name(n) for n in nodes])
    data[FAULT] = fault[::step]
    data = data.loc[:, data.std() > 0]
    if len(data) < 6 or data.shape[1] < 3:
        out.error = "too few rows or varying metrics for causal discovery"
        return out
    by_name = {_name(n): n for n in nodes}
    names = [c for c in data.columns if c != FAULT]
    forbidden = [
        (a, b) for a in names for b in names
        if a != b and not adjacent(graph, by_name[a][0], by_name[b][0])
    ]
    try:
        from pgmpy.causal_discovery import ExpertKnowledge

        from causal.citest import FastPearsonr

        logging.getLogger("pgmpy").setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pc = _GraphPC(
                variant="stable",
                ci_test=FastPearsonr(data),
                significance_level=ALPHA,
                max_cond_vars=MAX_COND,
                expert_knowledge=ExpertKnowledge(forbidden_edges=forbidden),
                enforce_expert_knowledge=True,
                show_progress=False,
            )
            pc.fit(data)
    except Exception as e:  # discovery is an aid to ranking; its failure must not stop the analysis
        out.error = f"PC failed: {type(e).__name__}: {e}"
        return out
    skeleton = nx.Graph(pc.skeleton_.edges())
    skeleton.add_nodes_from(data.columns)
    pdag = pc.causal_graph_
    out.ran = True
    out.fault_children = {by_name[n] for n in skeleton.neighbors(FAULT)} if FAULT in skeleton else set()
    out.effects = _orient(skeleton, pdag, by_name, {(m.component, m.metric): m.score for m in selected})
    return out


def _graph_pc() -> type:
    from pgmpy.causal_discovery import PC

    class GraphPC(PC):
        """pgmpy's PC; pairs removed by enforced forbidden edges get a separating set (every other variable).

        pgmpy 1.1 leaves them out of `separating_sets`, so collider orientation raises KeyError for two
        forbidden-apart variables with a common neighbour (pgmpy issue #2138). Listing every other variable
        means a common neighbour is never taken for a collider: the conservative reading for metrics of
        services that do not call each other, whose dependence runs through the services between them.
        """

        def _build_skeleton(self, *args: Any, **kwargs: Any) -> Any:
            skeleton, seps = super()._build_skeleton(*args, **kwargs)
            knowledge = kwargs.get("expert_knowledge")
            nodes = list(skeleton.nodes())
            for u, v in getattr(knowledge, "forbidden_edges", ()):
                key = frozenset((u, v))
                if key not in seps and not skeleton.has_edge(u, v):
                    seps[key] = tuple(n for n in nodes if n not in key)
            return skeleton, seps

    return GraphPC


def _GraphPC(**kwargs: Any) -> Any:  # noqa: N802 - used like the class it builds
    return _graph_pc()(**kwargs)


def _orient(skeleton: nx.Graph, pdag: nx.DiGraph, by_name: dict[str, Node], size: dict[Node, float]) -> nx.DiGraph:
    dist = nx.single_source_shortest_path_length(skeleton, FAULT) if FAULT in skeleton else {}
    far = len(skeleton) + 1
    g = nx.DiGraph()
    g.add_nodes_from(by_name.values())

    def node(name: str) -> Node:
        return by_name[name] if name != FAULT else (FAULT, FAULT)

    for a, b in skeleton.edges():
        if FAULT in (a, b):
            other = b if a == FAULT else a
            g.add_edge((FAULT, FAULT), node(other))
            continue
        directed_ab = pdag.has_edge(a, b) and not pdag.has_edge(b, a)
        directed_ba = pdag.has_edge(b, a) and not pdag.has_edge(a, b)
        if directed_ab and not directed_ba:
            src, dst = a, b
        elif directed_ba:
            src, dst = b, a
        else:
            key_a = (dist.get(a, far), -size.get(node(a), 0.0))
            key_b = (dist.get(b, far), -size.get(node(b), 0.0))
            src, dst = (a, b) if key_a <= key_b else (b, a)
        g.add_edge(node(src), node(dst))
    return g
