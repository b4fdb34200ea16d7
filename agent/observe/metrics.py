"""keel's own Prometheus metrics (`prometheus_client`), served at `/metrics`.

Counters and histograms live in one process-wide registry and are fed from the edges keel owns:
- HTTP: `RouteMetrics` (ASGI middleware) labels by route template, method and status class;
- the planner: `ObservedPlanner` wraps the planner the graph calls (calls by outcome, latency, fallbacks to
  the grammar);
- governance: `ObservedAudit` wraps the gate's audit store; every appended record is counted by kind, and
  decisions (by oversight), tool results (by tool and status) and approval decisions are read off the records;
- alerts: the intake counts notifications and opened incidents.
Gauges that are a state, not an event (approvals pending, queue depth, open incidents) are read when
scraped (`StateCollector`). Labels are closed sets (route templates, tool names, oversight levels, statuses):
no conversation ids, no free text.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from agent.observe import tracing

log = logging.getLogger("keel.audit")
REGISTRY = CollectorRegistry(auto_describe=True)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

HTTP_REQUESTS = Counter("keel_http_requests_total", "HTTP requests by route template, method and status class",
                        ["route", "method", "status"], registry=REGISTRY)
HTTP_LATENCY = Histogram("keel_http_request_duration_seconds", "HTTP request latency by route template",
                         ["route", "method"], buckets=LATENCY_BUCKETS, registry=REGISTRY)
PLANNER_CALLS = Counter("keel_planner_calls_total", "planner calls by outcome (ok, unparsed, error)", ["outcome"],
                        registry=REGISTRY)
PLANNER_LATENCY = Histogram("keel_planner_latency_seconds", "planner call latency", buckets=LATENCY_BUCKETS,
                            registry=REGISTRY)
PLANNER_FALLBACKS = Counter("keel_planner_fallbacks_total", "planner calls that needed the grammar fallback",
                            registry=REGISTRY)
TOOL_CALLS = Counter("keel_tool_calls_total", "tool results recorded by the gate, by tool and status",
                     ["tool", "status"], registry=REGISTRY)
DECISIONS = Counter("keel_decisions_total", "governance decisions by oversight level", ["oversight"],
                    registry=REGISTRY)
APPROVALS_DECIDED = Counter("keel_approvals_decided_total", "approvals decided (approved, denied, expired)",
                            ["decision"], registry=REGISTRY)
AUDIT_APPENDS = Counter("keel_audit_appends_total", "audit records appended, by kind", ["kind"], registry=REGISTRY)
ALERTS = Counter("keel_alerts_received_total", "Alertmanager alerts received, by notification status", ["status"],
                 registry=REGISTRY)
INCIDENTS_OPENED = Counter("keel_incidents_opened_total", "incidents opened by alerts", registry=REGISTRY)

OVERSIGHT = ("logging", "notification", "approval", "blocking")
_DECIDED = {"approval": "approved", "denial": "denied", "expiry": "expired"}
# closed label sets start at 0, so every series is listed before the first event
for _o in OVERSIGHT:
    DECISIONS.labels(oversight=_o)
for _d in _DECIDED.values():
    APPROVALS_DECIDED.labels(decision=_d)
for _s in ("firing", "resolved"):
    ALERTS.labels(status=_s)
for _p in ("ok", "unparsed", "error"):
    PLANNER_CALLS.labels(outcome=_p)


def bounded(value: Any, allowed: Iterable[str], other: str = "other") -> str:
    """`value` when it is one of `allowed`, else `other` (keeps a label's set closed)."""
    v = str(value)
    return v if v in set(allowed) else other


# ---------------------------------------------------------------------------------------------- audit
def observe_records(records: Sequence[Any]) -> None:
    """Count appended audit records (governance.chain.NewRecord) and what they say."""
    from tools.contract import TOOLS

    for r in records:
        AUDIT_APPENDS.labels(kind=r.kind).inc()
        data = r.data or {}
        if r.kind == "decision" and not data.get("recheck"):
            DECISIONS.labels(oversight=bounded(data.get("oversight"), OVERSIGHT)).inc()
        elif r.kind == "action_result":
            status = bounded(data.get("status"), ("ok", "error", "no_data", "denied", "pending_approval"))
            TOOL_CALLS.labels(tool=bounded(r.tool, TOOLS), status=status).inc()
        elif r.kind in _DECIDED:
            APPROVALS_DECIDED.labels(decision=_DECIDED[r.kind]).inc()


def _log_stored(stored: Sequence[Any]) -> None:
    """One log line per governed write record (reads only at debug), carrying its audit id."""
    from tools.contract import WRITE_TOOLS

    for r in stored:
        write = r.tool in WRITE_TOOLS or r.kind in _DECIDED
        level = logging.INFO if write and r.kind != "proposal" else logging.DEBUG
        if log.isEnabledFor(level):
            log.log(level, "audit #%s %s %s", r.seq, r.kind, r.tool or "",
                    extra={"audit_id": str(r.seq), "conversation_id": r.conversation_id})


class ObservedAudit:
    """An audit store that counts what is appended to the store it wraps (all else passes through)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def append(self, record: Any, durable: bool = True) -> Any:
        out = self._inner.append(record, durable=durable)
        observe_records([record])
        _log_stored([out])
        return out

    def append_many(self, records: Sequence[Any], durable: bool = True) -> Any:
        out = self._inner.append_many(records, durable=durable)
        observe_records(records)
        _log_stored(out)
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


# ---------------------------------------------------------------------------------------------- planner
class ObservedPlanner:
    """A planner that times and counts the calls of the planner it wraps, each in a `plan` span."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def plan(self, request: str, history: Sequence[Any] = (), *args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        with tracing.span("plan", {"keel.history": len(history)}) as sp:
            try:
                pc = self._inner.plan(request, history, *args, **kwargs)
            except Exception:
                PLANNER_CALLS.labels(outcome="error").inc()
                PLANNER_LATENCY.observe(time.perf_counter() - t0)
                raise
            sp.set_attribute("keel.tool", str(pc.tool))
            sp.set_attribute("keel.constrained", bool(pc.constrained))
        PLANNER_LATENCY.observe(time.perf_counter() - t0)
        PLANNER_CALLS.labels(outcome="ok" if pc.ok else "unparsed").inc()
        if pc.constrained:
            PLANNER_FALLBACKS.inc()
        return pc

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


# ---------------------------------------------------------------------------------------------- HTTP
class RouteMetrics:
    """ASGI middleware: requests and latency by route template (`/api/approvals/{approval_id}/approve`)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = {"code": 500}

        async def sending(message: dict[str, Any]) -> None:
            if message.get("type") == "http.response.start":
                status["code"] = int(message.get("status", 500))
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            name = getattr(route, "path", None) or "unmatched"
            method = bounded(scope.get("method", ""), ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"))
            HTTP_REQUESTS.labels(route=name, method=method, status=f"{status['code'] // 100}xx").inc()
            HTTP_LATENCY.labels(route=name, method=method).observe(time.perf_counter() - t0)


# ---------------------------------------------------------------------------------------------- state
class StateCollector(Collector):
    """Gauges read at scrape time from the running service (and the incident store, when there is one)."""

    def __init__(self, service: Any, incidents: Callable[[], int] | None = None) -> None:
        self.service, self.incidents = service, incidents

    def collect(self) -> Iterable[GaugeMetricFamily]:
        adm = self.service.admission
        yield GaugeMetricFamily("keel_queue_depth", "conversation turns admitted and running or waiting",
                                value=float(adm.active))
        yield GaugeMetricFamily("keel_queue_capacity", "conversation turns admitted at once", value=float(adm.capacity))
        pending = len(self.service.gate.approvals.list(status="pending", limit=100_000))
        yield GaugeMetricFamily("keel_approvals_pending", "approvals waiting for a decision", value=float(pending))
        if self.incidents is not None:
            yield GaugeMetricFamily("keel_incidents_open", "incidents opened by alerts and not yet resolved",
                                    value=float(self.incidents()))


def instrument(service: Any) -> None:
    """Count what the service's planner and gate do (idempotent)."""
    if not isinstance(service.nodes.planner, ObservedPlanner):
        service.nodes.planner = ObservedPlanner(service.nodes.planner)
    if not isinstance(service.gate.audit, ObservedAudit):
        service.gate.audit = ObservedAudit(service.gate.audit)
