"""`/api/conversations/{id}`: a conversation's turns and current state (the web page reloads from it)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException

from agent.http.auth import require
from agent.http.deps import get_service
from agent.service import AgentService
from governance.gate import Principal

router = APIRouter(prefix="/api/conversations", tags=["conversations"])


@router.get("/{conversation_id}")
def conversation(conversation_id: str, _: Principal = Depends(require("viewer")),
                 service: AgentService = Depends(get_service)) -> dict[str, Any]:
    try:
        return service.conversation(conversation_id)
    except KeyError as e:
        raise HTTPException(404, str(e.args[0])) from None
