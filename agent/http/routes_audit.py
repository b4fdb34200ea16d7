"""`/api/audit`: query records (by conversation, kind, action) and verify the hash chain."""

from __future__ import annotations

from collections import deque
from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool

from agent.http.auth import require
from agent.http.deps import get_service
from agent.service import AgentService
from governance.chain import KINDS
from governance.gate import Principal
from tools.errors import InvalidInput

router = APIRouter(prefix="/api/audit", tags=["audit"])


@router.get("")
def query(
    conversation_id: str | None = Query(None, max_length=100),
    kind: str | None = Query(None, description=f"one of {', '.join(KINDS)}"),
    action_id: str | None = Query(None, max_length=100),
    after_seq: int = Query(0, ge=0, le=2**63 - 1, description="sequence number to read after (a SQLite integer)"),
    limit: int = Query(200, ge=1, le=5000),
    _: Principal = Depends(require("viewer")),
    service: AgentService = Depends(get_service),
) -> dict[str, Any]:
    """The newest `limit` records after `after_seq` that match every filter given, oldest first."""
    if kind is not None and kind not in KINDS:
        raise InvalidInput(f"kind: got {kind!r}; allowed: {', '.join(KINDS)}")
    out: deque[dict[str, Any]] = deque(maxlen=limit)
    for r in service.gate.audit.records(after_seq=after_seq):
        if conversation_id and r.conversation_id != conversation_id:
            continue
        if kind and r.kind != kind:
            continue
        if action_id and r.action_id != action_id:
            continue
        out.append(r.to_dict())
    return {"records": list(out)}


@router.get("/verify")
async def verify(_: Principal = Depends(require("viewer")),
                 service: AgentService = Depends(get_service)) -> dict[str, Any]:
    report = await run_in_threadpool(service.gate.audit.verify)
    return report.to_dict()
