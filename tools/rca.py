"""root_cause_analysis: rank likely root-cause services with scores, explanation paths and evidence.

The case is built from whatever metrics backend is configured: every metric of every service over the
window (`ctx.metrics.series`), the call graph from `ctx.topology`; `causal.pipeline` detects the onset
and ranks. The symptom is the service asked about, else the entry-most service whose `metric` moved the
most (any metric when that one did not move).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import networkx as nx
import numpy as np

from causal.case import Case, CaseError, frame
from causal.pipeline import Analysis, analyse
from causal.rank import ANOMALOUS
from tools.backends.base import Point, ToolContext
from tools.contract import METRICS, RootCauseArgs
from tools.durations import parse_duration
from tools.envelope import ToolResult
from tools.services import SERVICES

MIN_ROWS = 6
TOP = 5


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def gather(ctx: ToolContext, window_s: int) -> dict[tuple[str, str], list[Point]]:
    """Every metric of every service over the window (empty series left out)."""
    out: dict[tuple[str, str], list[Point]] = {}
    for service in SERVICES:
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
    g.add_nodes_from(SERVICES)
    g.add_edges_from(edges)
    return Case(name="live", metrics=table, graph=g)


def _ranking(analysis: Analysis) -> list[dict[str, Any]]:
    out = []
    for c in analysis.ranking[:TOP]:
        out.append({
            "service": c.service,
            "score": round(float(c.score), 3),
            "path": c.path,
            "evidence": [
                {"metric": e.metric, "baseline": round(e.baseline, 4), "current": round(e.current, 4),
                 "z": round(e.direction * e.score, 2)}
                for e in c.evidence
            ],
        })
    return out


def root_cause_analysis(args: RootCauseArgs, ctx: ToolContext) -> ToolResult:
    window_s = parse_duration(args.window)
    series = gather(ctx, window_s)
    case = build_case(series, ctx.topology.edges()) if series else None
    if case is None:
        return ToolResult.empty(f"not enough metric data in the last {args.window} to analyse "
                                f"(need at least {MIN_ROWS} samples)")
    try:
        result = analyse(case, detect=True, symptom=args.service, symptom_metric=args.metric)
    except CaseError:
        return ToolResult.empty(f"no anomaly found in the last {args.window}: no metric varied")
    if not result.anomalous:
        return ToolResult.empty(f"no anomaly found in the last {args.window}: no service's metrics moved "
                                f"by {ANOMALOUS:g} robust units or more (a problem older than the window shows "
                                "no change inside it; a longer window includes its start)")
    return ToolResult.ok({
        "symptom": result.symptom,
        "metric": args.metric,
        "window": args.window,
        "onset": iso(result.onset),
        "ranking": _ranking(result),
    })
