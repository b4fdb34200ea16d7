"""Ranked root-cause candidates from the fused values (`causal.aggregate`), each with its evidence (its most
moved metrics) and, for the first `PATHS_FOR`, an explanation path from the symptom. Components are merged
into services: the best component stands for its service.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from causal.anomaly import MetricScore, Scores
from causal.case import Case
from causal.graph import depths, explain_path

ANOMALOUS = 3.0  # robust z above which a component counts as anomalous (symptom choice, no_data)
PATHS_FOR = 10  # candidates that get an explanation path (the rest: an empty path)


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
    d = depths(graph)
    return min(hot, key=lambda c: (d.get(c, 0), -anomaly[c]))


def candidates(case: Case, scores: Scores, graph: nx.DiGraph | None, value: dict[str, float],
               factors: dict[str, dict[str, float]], symptom: str) -> list[Candidate]:
    """One candidate per service, best value first (ties: larger anomaly, then name)."""
    anomaly: dict[str, float] = {}
    for m in scores.metrics:
        anomaly[m.component] = max(anomaly.get(m.component, 0.0), m.score)
    by_comp = scores.by_component()
    cands = [
        Candidate(service=case.service(c), component=c, score=v, anomaly=anomaly.get(c, 0.0),
                  path=[], evidence=by_comp.get(c, [])[:3], factors=factors.get(c, {}))
        for c, v in value.items()
    ]
    cands.sort(key=lambda x: (-x.score, -x.anomaly, x.component))
    seen: set[str] = set()
    out: list[Candidate] = []
    for cand in cands:
        if cand.service in seen:
            continue
        seen.add(cand.service)
        if len(out) < PATHS_FOR:
            path = [case.service(n) for n in explain_path(graph, symptom, cand.component, anomaly)]
            cand.path = [n for i, n in enumerate(path) if i == 0 or n != path[i - 1]]
        out.append(cand)
    return out
