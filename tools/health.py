"""check_health: the services whose latency, errors or saturation are out of line now, worst first.

One pass over the current topology's services (or the one asked about), reading each service's metrics over
the window from whatever metrics backend is configured. A metric is out of line when its value now crosses
its line:
- `latency_p99`: at or above the latency SLO, or at least `LATENCY_RISE` times its window minimum and above
  `LATENCY_FLOOR_MS` (the line is the lowest of those that applies);
- `error_rate`: at or above `ERROR_RATE`;
- `cpu` (saturation): at or above `CPU_SATURATED` percent;
- `memory` (saturation): at or above `MEMORY_SATURATED` of the service's memory limit, when the topology
  gives one;
- `replicas`: no replica running now while some ran earlier in the window (down).

Each finding's `severity` is how many times over its line the value is (a service that is down counts as a
100% error rate); a service's severity is its worst finding's, and services are listed worst first (on a tie,
the one whose next findings are worse). The same computation serves `/api/incidents`.
"""

from __future__ import annotations

from dataclasses import dataclass

from tools.backends.base import ToolContext
from tools.contract import CheckHealthArgs
from tools.durations import parse_duration
from tools.envelope import ToolResult
from tools.results import HealthFinding, HealthReport, ServiceHealth
from tools.services import current_topology, service_names

LATENCY_SLO_MS = 500.0  # p99 at or above this is out of line ...
LATENCY_RISE = 2.0  # ... as is p99 at least this many times its window minimum ...
LATENCY_FLOOR_MS = 200.0  # ... and above this
ERROR_RATE = 0.02  # error rate at or above this is out of line
CPU_SATURATED = 90.0  # percent of requested CPU
MEMORY_SATURATED = 0.9  # share of the memory limit
UNITS = {"latency_p99": "ms", "error_rate": "ratio", "cpu": "percent", "memory": "MB", "replicas": "count"}


@dataclass(frozen=True)
class Reading:
    """One metric of one service over the window: its value now and its window minimum and maximum."""

    current: float
    low: float
    high: float


def _reading(ctx: ToolContext, service: str, metric: str, window_s: int) -> Reading | None:
    points = ctx.metrics.series(service, metric, window_s)
    if not points:
        return None
    values = [p.value for p in points]
    return Reading(current=values[-1], low=min(values), high=max(values))


def _finding(metric: str, r: Reading, line: float, severity: float) -> HealthFinding:
    """The finding; its baseline is the window minimum (for replicas, the most that ran in the window)."""
    digits = 4 if metric == "error_rate" else 1
    baseline = r.high if metric == "replicas" else r.low
    return HealthFinding(metric=metric, current=round(r.current, digits), baseline=round(baseline, digits),
                         line=round(line, digits), unit=UNITS[metric], severity=round(severity, 2))


def latency_line(baseline_ms: float) -> float:
    """The p99 at or above which latency is out of line, given the window minimum."""
    return min(LATENCY_SLO_MS, max(LATENCY_FLOOR_MS, LATENCY_RISE * baseline_ms))


def assess(ctx: ToolContext, service: str, window_s: int) -> tuple[list[HealthFinding], bool]:
    """The service's out-of-line findings, worst first, and whether any of its metrics had data."""
    topo = ctx.sim.topology if ctx.sim is not None else current_topology()
    readings = {m: _reading(ctx, service, m, window_s) for m in UNITS}
    found: list[HealthFinding] = []
    if (r := readings["latency_p99"]) is not None and r.current >= (line := latency_line(r.low)):
        found.append(_finding("latency_p99", r, line, r.current / line))
    if (r := readings["error_rate"]) is not None and r.current >= ERROR_RATE:
        found.append(_finding("error_rate", r, ERROR_RATE, r.current / ERROR_RATE))
    if (r := readings["cpu"]) is not None and r.current >= CPU_SATURATED:
        found.append(_finding("cpu", r, CPU_SATURATED, r.current / CPU_SATURATED))
    if (r := readings["memory"]) is not None and service in topo and topo.spec(service).memory_limit_mb > 0:
        line = MEMORY_SATURATED * topo.spec(service).memory_limit_mb
        if r.current >= line:
            found.append(_finding("memory", r, line, r.current / line))
    if (r := readings["replicas"]) is not None and r.current <= 0 < r.high:
        found.append(_finding("replicas", r, 1.0, 1.0 / ERROR_RATE))
    found.sort(key=lambda f: -f.severity)
    return found, any(v is not None for v in readings.values())


def check_health(args: CheckHealthArgs, ctx: ToolContext) -> ToolResult:
    window_s = parse_duration(args.window)
    if args.service is not None:
        names: tuple[str, ...] = (args.service,)
    else:
        names = tuple(ctx.sim.services) if ctx.sim is not None else service_names()
    unhealthy: list[ServiceHealth] = []
    silent: list[str] = []
    for name in names:
        findings, seen = assess(ctx, name, window_s)
        if not seen:
            silent.append(name)
        elif findings:
            unhealthy.append(ServiceHealth(service=name, severity=findings[0].severity, findings=findings))
    unhealthy.sort(key=lambda s: [-f.severity for f in s.findings])  # ties: the one with more out of line first
    asked = {"service": args.service} if args.service is not None else {}
    report = HealthReport(window=args.window, **asked, checked=len(names) - len(silent), unhealthy=unhealthy,
                          no_data=silent)
    if len(silent) == len(names):
        return ToolResult.empty(f"no metrics for {', '.join(names)} in the last {args.window}", report)
    return ToolResult.ok(report)
