"""`/api/approvals`: list pending (and decided) approvals; approve or deny one (approver role).

A decision resumes what waits on the approval: the paused conversation (`reply` is its latest turn), or a
runbook run paused on that step (`reply` describes the decision and the run, `run` is the run record).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from agent.http.auth import require
from agent.http.deps import get_service
from agent.service import AgentService
from governance.gate import Principal

router = APIRouter(prefix="/api/approvals", tags=["approvals"])


class DecisionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field("", max_length=500)


@router.get("")
def list_approvals(
    status: Literal["pending", "approved", "denied", "expired"] | None = Query("pending"),
    conversation_id: str | None = Query(None, max_length=100),
    limit: int = Query(100, ge=1, le=1000),
    _: Principal = Depends(require("viewer")),
    service: AgentService = Depends(get_service),
) -> dict[str, Any]:
    items = service.gate.approvals.list(status=status, limit=limit)
    if conversation_id:
        items = [a for a in items if a.conversation_id == conversation_id]
    return {"approvals": [a.to_dict() for a in items]}


async def _decide(service: AgentService, approval_id: str, principal: Principal, approve: bool,
                  body: DecisionBody | None) -> dict[str, Any]:
    note = body.note if body else ""
    reply = await run_in_threadpool(service.decide, approval_id, principal, approve, note)
    approval = service.gate.approvals.get(approval_id)
    run_id = approval.run_id if approval is not None else None  # the reply describes the run it resumed
    run = service.runbook_run(run_id) if run_id and reply.conversation_id == run_id else None
    return {"approval": approval.to_dict() if approval else None, "reply": reply.to_dict(),
            "run": run.to_dict() if run is not None else None}


@router.post("/{approval_id}/approve")
async def approve(approval_id: str, body: DecisionBody | None = None,
                  principal: Principal = Depends(require("approver")),
                  service: AgentService = Depends(get_service)) -> dict[str, Any]:
    return await _decide(service, approval_id, principal, True, body)


@router.post("/{approval_id}/deny")
async def deny(approval_id: str, body: DecisionBody | None = None,
               principal: Principal = Depends(require("approver")),
               service: AgentService = Depends(get_service)) -> dict[str, Any]:
    return await _decide(service, approval_id, principal, False, body)
