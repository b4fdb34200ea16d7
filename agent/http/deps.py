"""FastAPI dependencies: the process's AgentService and Settings."""

from __future__ import annotations

from fastapi import Request

from agent.service import AgentService
from config.settings import Settings


def get_service(request: Request) -> AgentService:
    service: AgentService = request.app.state.service
    return service


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings
