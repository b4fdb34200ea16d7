"""`/api/incidents`: open symptoms read from the metrics (latency and error rate against their own
recent baseline), plus the recent notifications the gate sent. `/healthz`: liveness and what is loaded."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool

from agent.http.auth import require
from agent.http.deps import get_service
from agent.service import AgentService
from governance.gate import Principal
from tools.registry import call_tool
from tools.services import service_names

router = APIRouter(tags=["incidents"])

WINDOW = "60m"
LATENCY_SLO_MS = 500.0  # p99 above this breaches the latency SLO ...
LATENCY_RISE = 2.0  # ... as does p99 at least this many times its window minimum ...
LATENCY_FLOOR_MS = 200.0  # ... and above this
ERROR_RATE = 0.02  # or error rate above this


def symptoms(service: AgentService) -> list[dict[str, Any]]:
    """Services whose p99 latency or error rate is out of line now, worst first."""
    out = []
    ctx = service.live.tools
    with service.live.lock:
        names = ctx.sim.services if ctx.sim is not None else service_names()
        for s in names:
            lat = call_tool("query_metrics", {"service": s, "metric": "latency_p99", "window": WINDOW}, ctx)
            err = call_tool("query_metrics", {"service": s, "metric": "error_rate", "window": WINDOW}, ctx)
            if lat.status == "ok":
                d = lat.data
                rose = d["current"] >= LATENCY_RISE * max(d["min"], 1e-9) and d["current"] >= LATENCY_FLOOR_MS
                if rose or d["current"] >= LATENCY_SLO_MS:
                    out.append({"service": s, "metric": "latency_p99", "current": d["current"], "baseline": d["min"],
                                "unit": d["unit"], "window": WINDOW, "severity": d["current"] / max(d["min"], 1e-9)})
            if err.status == "ok" and err.data["current"] >= ERROR_RATE:
                d = err.data
                out.append({"service": s, "metric": "error_rate", "current": d["current"], "baseline": d["min"],
                            "unit": d["unit"], "window": WINDOW, "severity": d["current"] / ERROR_RATE})
    return sorted(out, key=lambda x: -x["severity"])


@router.get("/api/incidents")
async def incidents(_: Principal = Depends(require("viewer")),
                    service: AgentService = Depends(get_service)) -> dict[str, Any]:
    found = await run_in_threadpool(symptoms, service)
    return {"minute": service.live.minute(), "symptoms": found, "notifications": list(service.notifications)[-50:]}


@router.get("/healthz")
def healthz(service: AgentService = Depends(get_service)) -> dict[str, Any]:
    return {"status": "ok", "planner": getattr(service.planner, "name", type(service.planner).__name__),
            "autonomy": getattr(service.gate, "autonomy", None), "context": service.live.info,
            "minute": service.live.minute(),
            "queue": {"active": service.admission.active, "capacity": service.admission.capacity}}
