"""Read tools: query_metrics, search_logs, get_topology."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime

from tools.backends.base import ToolContext
from tools.contract import GetTopologyArgs, QueryMetricsArgs, SearchLogsArgs
from tools.durations import parse_duration
from tools.envelope import ToolResult
from tools.results import CallGraph, Edge, LogLine, LogMatches, MetricSeries, Neighbours

UNITS = {
    "cpu": "percent", "memory": "MB", "latency_p50": "ms", "latency_p99": "ms", "error_rate": "ratio",
    "throughput": "rps", "replicas": "count", "queue_depth": "requests",
}
MAX_POINTS = 60


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def query_metrics(args: QueryMetricsArgs, ctx: ToolContext) -> ToolResult:
    points = ctx.metrics.series(args.service, args.metric, parse_duration(args.window))
    if not points:
        return ToolResult.empty(f"no {args.metric} data for {args.service} in the last {args.window}")
    values = [p.value for p in points]
    step = max(1, len(points) // MAX_POINTS + (len(points) % MAX_POINTS > 0))
    digits = 4 if args.metric == "error_rate" else 1
    return ToolResult.ok(MetricSeries(
        service=args.service,
        metric=args.metric,
        unit=UNITS[args.metric],
        window=args.window,
        current=round(values[-1], digits),
        mean=round(statistics.fmean(values), digits),
        min=round(min(values), digits),
        max=round(max(values), digits),
        start=round(values[0], digits),
        points=[(iso(p.ts), round(p.value, digits)) for p in points[::step]],
    ))


def search_logs(args: SearchLogsArgs, ctx: ToolContext) -> ToolResult:
    page = ctx.logs.search(args.query, args.service, args.level, parse_duration(args.window), args.limit)
    data = LogMatches(
        query=args.query,
        service=args.service,
        level=args.level,
        window=args.window,
        total_matches=page.total,
        lines=[LogLine(ts=iso(x.ts), service=x.service, level=x.level, message=x.message) for x in page.lines],
    )
    if not page.lines:
        return ToolResult.empty("no log lines matched", data)
    return ToolResult.ok(data)


def get_topology(args: GetTopologyArgs, ctx: ToolContext) -> ToolResult:
    edges = ctx.topology.edges()
    if args.service is None:
        nodes = sorted({n for e in edges for n in e})
        return ToolResult.ok(CallGraph(services=nodes, edges=[Edge(caller=a, callee=b) for a, b in edges]))
    return ToolResult.ok(Neighbours(
        service=args.service,
        callers=sorted(a for a, b in edges if b == args.service),
        callees=sorted(b for a, b in edges if a == args.service),
    ))
