"""The whole method on one case: onset (given or detected) -> anomaly scores -> service graph ->
causal discovery on the top metrics -> ranked candidates with explanation paths.

Same defaults for every dataset; nothing here knows dataset, service or fault names.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from causal import anomaly, changepoint, discovery, graph, rank
from causal.case import Case, CaseError

STRONG_FRACTION = 0.5  # change points weaker than this share of the strongest are not onset candidates


@dataclass
class Analysis:
    case: str
    onset: float
    onset_source: str  # "given" | "detected" | "fallback"
    symptom: str
    ranking: list[rank.Candidate]
    discovery: discovery.Discovery
    anomalous: bool  # some component moved by at least rank.ANOMALOUS robust units
    runtime_s: float

    def services(self) -> list[str]:
        return [c.service for c in self.ranking]


def analyse(case: Case, onset: float | None = None, detect: bool = False, causal: bool = True,
            symptom: str | None = None, symptom_metric: str | None = None, use_graph: bool = True) -> Analysis:
    """Rank the root-cause services of `case`.

    The onset is `onset` if given, else the case's onset unless `detect` is set or the case has none, in
    which case it is detected from the data. `causal=False` skips causal discovery and `use_graph=False`
    ignores the call graph (ablations).
    The symptom (start of every explanation path) is `symptom` when given, else the entry-most component
    whose `symptom_metric` moved, else the entry-most anomalous component.
    """
    t0 = time.perf_counter()
    table = anomaly.prepare(case.metrics)
    if table.shape[1] == 0:
        raise CaseError(f"case {case.name}: no metric varies in the window")
    source = "given"
    at = onset if onset is not None else (None if detect else case.onset)
    scores = None
    if at is None:
        # several changes can share the window (a load shift, then the fault): among those at least half as
        # strong as the strongest, take the one after which the incident is most visible
        found = changepoint.candidates(table)
        if found:
            strongest = max(c.strength for c in found)
            kept = [c for c in found if c.onset is not None and c.strength >= STRONG_FRACTION * strongest]
            tried = [anomaly.score(table, c.onset) for c in kept if c.onset is not None]
            scores = max(tried, key=lambda s: max(anomaly.component_scores(s).values(), default=0.0))
            at, source = scores.onset, "detected"
        else:
            at, source = float(table.index[len(table) // 2]), "fallback"
    if scores is None:
        scores = anomaly.score(table, at)
    g = graph.component_graph(case) if use_graph else None
    comp_anomaly = anomaly.component_scores(scores)
    order = sorted(comp_anomaly, key=lambda c: -comp_anomaly[c])
    disc = discovery.Discovery(nodes=[])
    if causal:
        disc = discovery.discover(scores, discovery.select(scores, order), g)
    sym = symptom if symptom in case.components else None
    if sym is None and symptom_metric is not None:
        moved = {m.component: m.score for m in scores.metrics
                 if m.metric == symptom_metric and m.score >= rank.ANOMALOUS}
        sym = rank.symptom_of(moved, g) if moved else None
    if sym is None:
        sym = rank.symptom_of(comp_anomaly, g)
    ranking = rank.rank(case, scores, g, disc, sym)
    return Analysis(
        case=case.name, onset=float(at), onset_source=source, symptom=case.service(sym), ranking=ranking,
        discovery=disc, anomalous=max(comp_anomaly.values(), default=0.0) >= rank.ANOMALOUS,
        runtime_s=time.perf_counter() - t0,
    )
