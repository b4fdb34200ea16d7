"""The result envelope every tool returns: status, data, error. A tool never raises into the agent."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

Status = Literal["ok", "error", "no_data", "denied", "pending_approval"]


class ToolResult(BaseModel):
    """One tool call's outcome. `data` is JSON-serialisable; `error` is a human-readable message."""

    status: Status
    data: Any = None
    error: str | None = None

    @classmethod
    def ok(cls, data: Any) -> ToolResult:
        return cls(status="ok", data=data)

    @classmethod
    def fail(cls, message: str, data: Any = None) -> ToolResult:
        return cls(status="error", error=message, data=data)

    @classmethod
    def empty(cls, message: str, data: Any = None) -> ToolResult:
        return cls(status="no_data", error=message, data=data)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
