"""The whole method on one case: onset (given or detected) -> simple scores per metric -> rank aggregation ->
the call graph as a prior (and, when the configuration says so, PC with a fault node) -> ranked candidates
with explanation paths and a calibrated confidence.

Same defaults for every dataset (`causal.config.SHIPPED`); nothing here knows dataset, service or fault
names. `prepare` does the work that does not depend on the configuration, `rank_prepared` the rest, so an
evaluation can try many configurations on one preparation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import networkx as nx
import numpy as np
import pandas as pd

from causal import aggregate, anomaly, changepoint, confidence, discovery, graph, rank, scores
from causal.case import Case, CaseError
from causal.config import SHIPPED

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
    confidence: float = 0.0  # calibrated probability that the first candidate is the root cause
    features: dict[str, float] = field(default_factory=dict)

    def services(self) -> list[str]:
        return [c.service for c in self.ranking]

    @property
    def inconclusive(self) -> bool:
        return self.confidence < confidence.THRESHOLD


@dataclass
class Prepared:
    """What every configuration shares: the table, the onset, the evidence scores and the call graph."""

    case: Case
    table: pd.DataFrame
    onset: float
    source: str
    evidence: anomaly.Scores
    graph: nx.DiGraph | None
    seconds: float
    _tables: dict[tuple[float, str], pd.DataFrame] = field(default_factory=dict)
    _arrays: dict[tuple[float, str], tuple[list[str], np.ndarray]] = field(default_factory=dict)
    _discovery: discovery.Discovery | None = None

    def component_scores(self, rel_floor: float, names: tuple[str, ...], zero_scale: str = "spread") -> pd.DataFrame:
        """components x `names`: each component's best metric per score (computed once per scaling)."""
        key = (rel_floor, zero_scale)
        if key not in self._tables:
            self._tables[key] = scores.score_table(self.table, self.onset, rel_floor, zero_scale).by_component()
        return self._tables[key][list(names)]

    def score_matrix(self, rel_floor: float, names: tuple[str, ...],
                     zero_scale: str = "spread") -> tuple[list[str], np.ndarray]:
        """(components, components x `names` array): the same figures as `component_scores`, as numpy."""
        key = (rel_floor, zero_scale)
        if key not in self._arrays:
            t = self.component_scores(rel_floor, scores.SCORES, zero_scale)
            self._arrays[key] = ([str(c) for c in t.index], t.to_numpy(dtype=float))
        comps, m = self._arrays[key]
        return comps, m[:, [scores.SCORES.index(n) for n in names]]

    def discovered(self) -> discovery.Discovery:
        """PC over the top metrics of the most anomalous components (run once, on first use)."""
        if self._discovery is None:
            comp = anomaly.component_scores(self.evidence)
            order = sorted(comp, key=lambda c: -comp[c])
            self._discovery = discovery.discover(self.evidence, discovery.select(self.evidence, order), self.graph)
        return self._discovery


def prepare(case: Case, onset: float | None = None, detect: bool = False) -> Prepared:
    """The onset is `onset` if given, else the case's onset unless `detect` is set or the case has none, in
    which case it is detected from the data."""
    t0 = time.perf_counter()
    table = anomaly.prepare(case.metrics)
    if table.shape[1] == 0:
        raise CaseError(f"case {case.name}: no metric varies in the window")
    source = "given"
    at = onset if onset is not None else (None if detect else case.onset)
    evidence = None
    if at is None:
        # several changes can share the window (a load shift, then the fault): among those at least half as
        # strong as the strongest, take the one after which the incident is most visible
        found = changepoint.candidates(table)
        if found:
            strongest = max(c.strength for c in found)
            kept = [c for c in found if c.onset is not None and c.strength >= STRONG_FRACTION * strongest]
            tried = [anomaly.score(table, c.onset) for c in kept if c.onset is not None]
            evidence = max(tried, key=lambda s: max(anomaly.component_scores(s).values(), default=0.0))
            at, source = evidence.onset, "detected"
        else:
            at, source = float(table.index[len(table) // 2]), "fallback"
    if evidence is None:
        evidence = anomaly.score(table, at)
    return Prepared(case=case, table=table, onset=float(at), source=source, evidence=evidence,
                    graph=graph.component_graph(case), seconds=time.perf_counter() - t0)


def rank_prepared(p: Prepared, config: aggregate.MethodConfig = SHIPPED, symptom: str | None = None,
                  symptom_metric: str | None = None) -> Analysis:
    t0 = time.perf_counter()
    case = p.case
    g = p.graph  # paths and the symptom; the ranking uses it only as `config.graph` says
    comp = p.component_scores(config.rel_floor, config.scores, config.zero_scale)
    disc = p.discovered() if config.causal else discovery.Discovery(nodes=[])
    explained = (disc.tested_components() - disc.component_roots()) if disc.ran else set()
    mag = dict(zip([str(c) for c in comp.index], aggregate.magnitude(comp.to_numpy(dtype=float)), strict=True))
    value, factors = aggregate.values(aggregate.fuse(comp, config), g, config, explained, mag)
    comp_anomaly = anomaly.component_scores(p.evidence)
    sym = symptom if symptom in case.components else None
    if sym is None and symptom_metric is not None:
        moved = {m.component: m.score for m in p.evidence.metrics
                 if m.metric == symptom_metric and m.score >= rank.ANOMALOUS}
        sym = rank.symptom_of(moved, g) if moved else None
    if sym is None:
        sym = rank.symptom_of(comp_anomaly, g)
    ranking = rank.candidates(case, p.evidence, g, value, factors, sym)
    comps, everything = p.score_matrix(config.rel_floor, scores.SCORES, config.zero_scale)
    feats = confidence.features(comps, everything, ranking[0].service if ranking else None,
                                {c: case.service(c) for c in comps})
    return Analysis(
        case=case.name, onset=p.onset, onset_source=p.source, symptom=case.service(sym), ranking=ranking,
        discovery=disc, anomalous=max(comp_anomaly.values(), default=0.0) >= rank.ANOMALOUS,
        runtime_s=p.seconds + time.perf_counter() - t0, confidence=confidence.calibrated(feats), features=feats,
    )


def analyse(case: Case, onset: float | None = None, detect: bool = False, causal: bool | None = None,
            symptom: str | None = None, symptom_metric: str | None = None, use_graph: bool = True,
            config: aggregate.MethodConfig = SHIPPED) -> Analysis:
    """Rank the root-cause services of `case` (see `prepare` for the onset).

    `causal` overrides whether PC runs and `use_graph=False` ignores the call graph (ablations).
    The symptom (start of every explanation path) is `symptom` when given, else the entry-most component
    whose `symptom_metric` moved, else the entry-most anomalous component.
    """
    cfg = config
    if causal is not None:
        cfg = replace(cfg, causal=causal)
    if not use_graph:
        cfg = replace(cfg, graph="none", infer=0.0)
    p = prepare(case, onset, detect)
    if not use_graph:
        p.graph = None
    return rank_prepared(p, cfg, symptom, symptom_metric)
