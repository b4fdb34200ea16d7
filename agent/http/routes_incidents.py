"""`/api/incidents`: open symptoms read from the metrics (latency and error rate against their own
recent baseline), plus the recent notifications the gate sent. `/healthz`: liveness and what is loaded."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from agent.http.auth import require
from agent.http.deps import get_service
from agent.http.routes_alerts import alert_incidents
from agent.service import AgentService
from governance.gate import Principal
from tools.envelope import ToolResult
from tools.registry import call_tool
from tools.results import MetricSeries
from tools.services import service_names

router = APIRouter(tags=["incidents"])

WINDOW = "60m"
LATENCY_SLO_MS = 500.0  # p99 above this breaches the latency SLO ...
LATENCY_RISE = 2.0  # ... as does p99 at least this many times its window minimum ...
LATENCY_FLOOR_MS = 200.0  # ... and above this
ERROR_RATE = 0.02  # or error rate above this


def _series(result: ToolResult) -> tuple[float, float] | None:
    """(current, window minimum) of an ok query_metrics result."""
    m = result.view("query_metrics")
    if result.status != "ok" or not isinstance(m, MetricSeries) or m.current is None or m.min is None:
        return None
    return m.current, m.min


def symptoms(service: AgentService) -> list[dict[str, Any]]:
    """Services whose p99 latency or error rate is out of line now, worst first."""
    out = []
    ctx = service.live.tools
    with service.live.lock:
        names = ctx.sim.services if ctx.sim is not None else service_names()
        for s in names:
            lat = _series(call_tool("query_metrics", {"service": s, "metric": "latency_p99", "window": WINDOW}, ctx))
            err = _series(call_tool("query_metrics", {"service": s, "metric": "error_rate", "window": WINDOW}, ctx))
            if lat is not None:
                now, low = lat
                rose = now >= LATENCY_RISE * max(low, 1e-9) and now >= LATENCY_FLOOR_MS
                if rose or now >= LATENCY_SLO_MS:
                    out.append({"service": s, "metric": "latency_p99", "current": now, "baseline": low,
                                "unit": "ms", "window": WINDOW, "severity": now / max(low, 1e-9)})
            if err is not None and err[0] >= ERROR_RATE:
                now, low = err
                out.append({"service": s, "metric": "error_rate", "current": now, "baseline": low,
                            "unit": "ratio", "window": WINDOW, "severity": now / ERROR_RATE})
    return sorted(out, key=lambda x: -x["severity"])


@router.get("/api/incidents")
async def incidents(request: Request, _: Principal = Depends(require("viewer")),
                    service: AgentService = Depends(get_service)) -> dict[str, Any]:
    found = await run_in_threadpool(symptoms, service)
    return {"minute": service.live.minute(), "symptoms": found, "notifications": list(service.notifications)[-50:],
            "incidents": alert_incidents(request.app)}


@router.get("/healthz")
def healthz(service: AgentService = Depends(get_service)) -> dict[str, Any]:
    return {"status": "ok", "planner": getattr(service.planner, "name", type(service.planner).__name__),
            "autonomy": getattr(service.gate, "autonomy", None), "context": service.live.info,
            "minute": service.live.minute(),
            "queue": {"active": service.admission.active, "capacity": service.admission.capacity}}
