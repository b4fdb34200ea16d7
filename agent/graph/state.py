"""The graph's state: one conversation (a LangGraph thread); the current turn's steps plus past turns.

Everything in it is plain JSON (and `context`, a frozen dataclass of plain values) so any checkpointer
(SQLite, PostgreSQL) can store it.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal, TypedDict

from runtime.conversation import Conversation

StopReason = Literal["respond", "step_limit", "repeat", "plan_failed", "ungrounded"]


class AgentState(TypedDict, total=False):
    request: str
    principal: dict[str, str]  # {"name", "role"}
    conversation_id: str
    context: Conversation | None  # earlier turns, the inventory, the alert's services (runtime.conversation)
    # this turn's governed calls (a new turn starts with []): tool, args, rationale, risk, oversight, reasons,
    # approval_id, approved_by, result (the ToolResult envelope) and summary (its `line()`)
    steps: list[dict[str, Any]]
    call: dict[str, Any] | None  # the planned call waiting to be governed
    outcome: dict[str, Any] | None  # the governed call (a step, as above) waiting to be observed
    stop: StopReason | None
    stop_detail: str
    planner_text: str
    answer: str
    turns: Annotated[list[dict[str, Any]], operator.add]  # {"request", "answer", "steps", "services"} per turn
