"""FastAPI dependencies: the process's AgentService and Settings."""

from __future__ import annotations

from fastapi import Request

from agent.service import AgentService
from agent.settings import Settings


def get_service(request: Request) -> AgentService:
    return request.app.state.service  # type: ignore[no-any-return]


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]
