"""Rank root-cause candidates: anomalous components whose own dependencies are healthy and whose anomaly
causal discovery attributes directly to the fault; each with an explanation path and evidence.

score(c) = A(c) * w_dep(c) * w_causal(c), where
  A(c)        the component's anomaly (its largest sustained robust z),
  w_dep(c)    1 when no dependency of c (a component it calls) is more anomalous than c, else A(c) / max A(dep):
              a caller is slow because its callee is slow, not the other way round,
  w_causal(c) 1 when one of c's metrics stays adjacent to the fault node in the PC skeleton (a direct effect),
              EXPLAINED when c was tested and all its metrics were separated from the fault by other metrics.
Components are merged into services (the best component stands for its service).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from causal.anomaly import MetricScore, Scores, component_scores
from causal.case import Case
from causal.discovery import Discovery
from causal.graph import dependencies, depth, explain_path

EXPLAINED = 0.5  # weight of a component whose anomaly PC explains by other metrics
ANOMALOUS = 3.0  # robust z above which a component counts as anomalous (symptom choice, no_data)


@dataclass
class Candidate:
    service: str
    component: str
    score: float
    anomaly: float
    path: list[str]
    evidence: list[MetricScore]
    factors: dict[str, float] = field(default_factory=dict)


def symptom_of(anomaly: dict[str, float], graph: nx.DiGraph | None) -> str:
    """The entry-most anomalous component (largest anomaly among the shallowest anomalous ones)."""
    if not anomaly:
        raise ValueError("no components to choose a symptom from")
    hot = [c for c, a in anomaly.items() if a >= ANOMALOUS] or list(anomaly)
    return min(hot, key=lambda c: (depth(graph, c), -anomaly[c]))


def rank(
    case: Case,
    scores: Scores,
    graph: nx.DiGraph | None,
    discovery: Discovery | None,
    symptom: str | None = None,
) -> list[Candidate]:
    anomaly = component_scores(scores)
    by_comp = scores.by_component()
    roots = discovery.component_roots() if discovery and discovery.ran else set()
    tested = discovery.tested_components() if discovery and discovery.ran else set()
    sym = symptom if symptom is not None else symptom_of(anomaly, graph)
    w_causal = {c: EXPLAINED if (c in tested and c not in roots) else 1.0 for c in anomaly}
    cands: list[Candidate] = []
    for c, a in anomaly.items():
        # a dependency counts against c only as far as it is itself unexplained
        worst = max((anomaly.get(d, 0.0) * w_causal.get(d, 1.0) for d in dependencies(graph, c)), default=0.0)
        w_dep = 1.0 if worst <= a or a <= 0 else a / worst
        cands.append(Candidate(
            service=case.service(c), component=c, score=a * w_dep * w_causal[c], anomaly=a,
            path=explain_path(graph, sym, c, anomaly), evidence=by_comp.get(c, [])[:3],
            factors={"anomaly": a, "dependencies": w_dep, "causal": w_causal[c]},
        ))
    cands.sort(key=lambda x: (-x.score, -x.anomaly, x.component))
    seen: set[str] = set()
    out = []
    for cand in cands:
        if cand.service in seen:
            continue
        seen.add(cand.service)
        cand.path = [case.service(n) for n in cand.path]
        cand.path = [n for i, n in enumerate(cand.path) if i == 0 or n != cand.path[i - 1]]
        out.append(cand)
    return out
