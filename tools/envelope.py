"""The result envelope every tool returns: status, data, error (and an error code). A tool never raises into
the agent.

`data` is the JSON form of the tool's typed result (`tools.results`); `view(tool)` gives the typed model
back, and `line(tool)` / `observation(tool)` render the whole envelope for people and for the planner.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from tools.results import PendingApproval, ResultData, typed

Status = Literal["ok", "error", "no_data", "denied", "pending_approval"]
ErrorCode = Literal[
    "invalid_args",  # the call does not satisfy the contract (the message names the field and allowed values)
    "unknown_service",  # no service of that name or alias (a write: no exact, alias or normalised match)
    "ambiguous_service",  # the name could mean several services
    "backend_unavailable",  # a metrics, logs or actions backend failed or answered badly
    "timeout",  # a backend did not answer within its budget
    "not_configured",  # something the tool needs is not set up (a webhook, a policy file, the runbook engine)
    "not_implemented",  # the backend cannot do this
    "delivery_failed",  # a notification was not delivered
    "audit_unavailable",  # the audit log or approval store failed, so nothing ran
    "approval_conflict",  # an approval is already running, was interrupted or no longer validates
    "run_failed",  # a runbook run stopped on a failed or refused step
    "internal",  # a bug: the message says which tool and what was raised
]


class ToolResult(BaseModel):
    """One tool call's outcome. `data` is a JSON object; `error` a human-readable message with its `code`."""

    status: Status
    data: dict[str, Any] | None = None
    error: str | None = None
    code: ErrorCode | None = None
    resolved: dict[str, Any] | None = None  # {"asked", "service", "how", "score"} when a name was resolved loosely

    @classmethod
    def ok(cls, data: ResultData | dict[str, Any]) -> ToolResult:
        return cls(status="ok", data=data.to_data() if isinstance(data, ResultData) else data)

    @classmethod
    def fail(cls, message: str, data: ResultData | dict[str, Any] | None = None,
             code: ErrorCode = "internal") -> ToolResult:
        return cls(status="error", error=message, code=code,
                   data=data.to_data() if isinstance(data, ResultData) else data)

    @classmethod
    def empty(cls, message: str, data: ResultData | dict[str, Any] | None = None) -> ToolResult:
        return cls(status="no_data", error=message, data=data.to_data() if isinstance(data, ResultData) else data)

    def to_dict(self) -> dict[str, Any]:
        """The envelope as JSON: status, data, error, and `code` when the result is an error."""
        out = self.model_dump(mode="json")
        for key in ("code", "resolved"):
            if out.get(key) is None:
                out.pop(key, None)
        return out

    @classmethod
    def waiting(cls, pending: PendingApproval) -> ToolResult:
        """A call parked for a person's approval."""
        return cls(status="pending_approval", data=pending.to_data())

    def pending(self) -> PendingApproval | None:
        """The approval a pending_approval result waits for (None for other statuses or a malformed one)."""
        if self.status != "pending_approval" or not isinstance(self.data, dict):
            return None
        try:
            return PendingApproval.model_validate(self.data)
        except ValueError:
            return None

    def view(self, tool: str) -> ResultData | None:
        """The typed data of an ok or no_data result (None for other statuses or no data)."""
        if self.status not in ("ok", "no_data"):
            return None
        return typed(tool, self.data)

    def line(self, tool: str) -> str:
        """A short description of the envelope for people (`730.2 ms now (start 250.1, max 801.3)`)."""
        if self.status not in ("ok", "no_data"):
            return f"{self.status}: {self.error}" if self.error else str(self.status)
        view = self.view(tool)
        text = (view.line() if view is not None else "") or str(self.status)
        return f"{text} ({self.resolved_note()})" if self.resolved else text

    def resolved_note(self) -> str:
        """`used journalWriter for 'journal writer' (normalised)`, when a service name was resolved loosely."""
        r = self.resolved or {}
        score = f", score {r['score']:.0f}" if r.get("how") == "fuzzy" and r.get("score") is not None else ""
        return f"used {r.get('service')} for {r.get('asked')!r} ({r.get('how')}{score})" if r else ""

    def observation(self, tool: str) -> str:
        """The body of the planner's `Seen:` line for this envelope."""
        if self.status == "ok":
            view = self.view(tool)
            return view.observation() if view is not None else "ok"
        if self.status == "no_data":
            return "no data"
        return f"{self.status}" + (f": {self.error}" if self.error else "")
