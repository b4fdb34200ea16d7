"""What a turn produces: streamed events while it runs and the Reply when it stops (answered or paused)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

EventKind = Literal["turn", "plan", "step", "approval", "paused", "notification", "answer", "error", "decision",
                    "refused", "note"]


@dataclass(frozen=True)
class Event:
    """One thing that happened during a turn, in order: a plan, a governed step, a pause, the answer."""

    kind: EventKind
    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "data": self.data}


ReplyStatus = Literal["answered", "waiting_approval"]


@dataclass(frozen=True)
class Reply:
    """The outcome of a turn: final text, the steps with oversight and results, pending approvals."""

    conversation_id: str
    status: ReplyStatus
    text: str
    steps: list[dict[str, Any]] = field(default_factory=list)
    pending: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
