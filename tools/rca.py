"""root_cause_analysis: rank likely root-cause services with scores, explanation paths and evidence.

The case is built from whatever metrics backend is configured: every metric of every service over the
window (`ctx.metrics.series`), the call graph from `ctx.topology`; `causal.pipeline` detects the onset
and ranks. The symptom is the service asked about, else the entry-most service whose `metric` moved the
most (any metric when that one did not move).

When nothing moved inside the window (an incident older than the window looks flat from inside it), the
analysis is repeated over longer windows (x4, x12, x48, up to 24 h) and the result names the window used.
Each ranked service carries its `signature` (`causal.signature`): the kind of problem its own metrics show
and the write that usually mitigates it, as evidence for the planner; governance still decides every write.
The result carries the ranking's calibrated `confidence` (`causal.confidence`); below the threshold it is
`inconclusive` and its `verdict` names the top three with their evidence instead of asserting one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import networkx as nx
import numpy as np

from causal.case import Case, CaseError, frame
from causal.confidence import THRESHOLD
from causal.pipeline import Analysis, analyse
from causal.rank import ANOMALOUS
from causal.signature import classify
from tools.backends.base import Point, ToolContext
from tools.contract import METRICS, RootCauseArgs
from tools.durations import format_duration, parse_duration
from tools.envelope import ToolResult
from tools.results import Candidate, Evidence, ProblemSignature, RootCauseRanking
from tools.services import service_names

MIN_ROWS = 6
TOP = 5
WIDEN = (4, 12, 48)  # longer windows tried, as multiples of the one asked for, when nothing moved inside it
MAX_WINDOW_S = 24 * 3600


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def gather(ctx: ToolContext, window_s: int) -> dict[tuple[str, str], list[Point]]:
    """Every metric of every service of the current topology over the window (empty series left out)."""
    out: dict[tuple[str, str], list[Point]] = {}
    names = ctx.sim.services if ctx.sim is not None else service_names()
    for service in names:
        for metric in METRICS:
            points = ctx.metrics.series(service, metric, window_s)
            if points:
                out[(service, metric)] = points
    return out


def build_case(series: dict[tuple[str, str], list[Point]], edges: list[tuple[str, str]]) -> Case | None:
    """Align the series on the union of their timestamps (gaps carried forward); None when too short."""
    times = np.array(sorted({p.ts for pts in series.values() for p in pts}), dtype=float)
    if len(times) < MIN_ROWS:
        return None
    pos = {t: i for i, t in enumerate(times)}
    cols: dict[tuple[str, str], np.ndarray] = {}
    for key, pts in series.items():
        col = np.full(len(times), np.nan)
        for p in pts:
            col[pos[p.ts]] = p.value
        cols[key] = col
    table = frame(cols, times).ffill().bfill()
    g = nx.DiGraph()
    g.add_nodes_from(dict.fromkeys(s for s, _ in series))
    g.add_edges_from(edges)
    return Case(name="live", metrics=table, graph=g)


def _signature(case: Case, service: str, onset: float) -> ProblemSignature:
    table = case.metrics
    if service not in table.columns.get_level_values(0):
        return ProblemSignature(**classify({}, 0).to_dict())
    cols = table[service]
    k = int(np.searchsorted(table.index.to_numpy(dtype=float), onset))
    return ProblemSignature(**classify({str(m): cols[m].to_numpy(dtype=float) for m in cols.columns}, k).to_dict())


def _ranking(analysis: Analysis, case: Case) -> list[Candidate]:
    return [
        Candidate(
            service=c.service,
            score=round(float(c.score), 3),
            path=c.path,
            evidence=[Evidence(metric=e.metric, baseline=round(e.baseline, 4), current=round(e.current, 4),
                               z=round(e.direction * e.score, 2)) for e in c.evidence],
            signature=_signature(case, c.service, analysis.onset),
        )
        for c in analysis.ranking[:TOP]
    ]


def verdict(ranking: list[Candidate], confidence: float) -> str:
    """One sentence: the likely cause, or (below the confidence threshold) that the analysis is inconclusive
    and the top three with their strongest evidence."""
    if not ranking:
        return "no candidate"
    if confidence >= THRESHOLD:
        return f"most likely root cause: {ranking[0].service} (confidence {confidence:.2f})"
    parts = []
    for c in ranking[:3]:
        ev = c.evidence[0] if c.evidence else None
        why = f"{ev.metric} {ev.baseline:g}->{ev.current:g}" if ev is not None else "no metrics of its own"
        parts.append(f"{c.service} ({why})")
    return (f"inconclusive (confidence {confidence:.2f} < {THRESHOLD:g}): candidates " + "; ".join(parts))


def _analyse_window(args: RootCauseArgs, ctx: ToolContext, window_s: int) -> tuple[Analysis, Case] | str:
    """The analysis over one window, or why there is none."""
    label = format_duration(window_s)
    series = gather(ctx, window_s)
    case = build_case(series, ctx.topology.edges()) if series else None
    if case is None:
        return f"not enough metric data in the last {label} to analyse (need at least {MIN_ROWS} samples)"
    try:
        result = analyse(case, detect=True, symptom=args.service, symptom_metric=args.metric)
    except CaseError:
        return f"no anomaly found in the last {label}: no metric varied"
    if not result.anomalous:
        return (f"no anomaly found in the last {label}: no service's metrics moved by {ANOMALOUS:g} robust units "
                "or more")
    return result, case


def root_cause_analysis(args: RootCauseArgs, ctx: ToolContext) -> ToolResult:
    asked = parse_duration(args.window)
    windows = [asked] + [w for f in WIDEN if (w := min(asked * f, MAX_WINDOW_S)) > asked]
    reasons: list[str] = []
    for window_s in dict.fromkeys(windows):
        found = _analyse_window(args, ctx, window_s)
        if isinstance(found, str):
            reasons.append(found)
            continue
        result, case = found
        fields: dict[str, Any] = {"widened_from": args.window} if window_s != asked else {}
        ranking = _ranking(result, case)
        return ToolResult.ok(RootCauseRanking(
            symptom=result.symptom,
            metric=args.metric,
            window=args.window if window_s == asked else format_duration(window_s),
            onset=iso(result.onset),
            ranking=ranking,
            confidence=round(result.confidence, 3),
            inconclusive=result.inconclusive,
            verdict=verdict(ranking, result.confidence),
            **fields,
        ))
    return ToolResult.empty("; ".join(reasons) + " (an incident older than the window shows no change inside it)")
