"""`/api/incidents`: open symptoms (the `check_health` tool over the last hour: latency, errors and saturation
out of line now), plus the recent notifications the gate sent. `/healthz`: liveness and what is loaded."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from agent.http.auth import require
from agent.http.deps import get_service
from agent.http.routes_alerts import alert_incidents
from agent.service import AgentService
from governance.gate import Principal
from tools.registry import call_tool
from tools.results import HealthReport

router = APIRouter(tags=["incidents"])

WINDOW = "60m"


def symptoms(service: AgentService) -> list[dict[str, Any]]:
    """Services whose latency, errors or saturation are out of line now (`check_health` over `WINDOW`), one row
    per metric out of line, worst first."""
    with service.live.lock:
        result = call_tool("check_health", {"window": WINDOW}, service.live.tools)
    report = result.view("check_health")
    if not isinstance(report, HealthReport):
        return []
    rows = [{"service": s.service, "metric": f.metric, "current": f.current, "baseline": f.baseline, "line": f.line,
             "unit": f.unit, "window": WINDOW, "severity": f.severity}
            for s in report.unhealthy for f in s.findings]
    return sorted(rows, key=lambda x: -x["severity"])


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
