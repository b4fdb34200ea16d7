"""`/api/conversations/{id}`: a conversation's turns and current state; `/api/whoami`: the token's role."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException

from agent.http.auth import require
from agent.http.deps import get_service
from agent.service import AgentService
from governance.gate import Principal

router = APIRouter(tags=["conversations"])


@router.get("/api/whoami")
def whoami(principal: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    """The principal behind the bearer token (the web page shows approve buttons to approvers only)."""
    return {"name": principal.name, "role": principal.role}


@router.get("/api/conversations/{conversation_id}")
def conversation(conversation_id: str, _: Principal = Depends(require("viewer")),
                 service: AgentService = Depends(get_service)) -> dict[str, Any]:
    try:
        return service.conversation(conversation_id)
    except KeyError as e:
        raise HTTPException(404, str(e.args[0])) from None
