"""The graph's state: one conversation (a LangGraph thread); the current turn's steps plus past turns.

Everything in it is plain JSON so any checkpointer (SQLite, PostgreSQL) can store it.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal, TypedDict

StopReason = Literal["respond", "step_limit", "repeat", "plan_failed"]


class StepRecord(TypedDict, total=False):
    """One governed tool call of the turn."""

    tool: str
    args: dict[str, Any]
    rationale: str
    risk: str | None
    oversight: str | None
    reasons: list[str]
    approval_id: str | None
    result: dict[str, Any]  # the ToolResult envelope: status, data, error
    approved_by: str | None
    summary: str  # one line for people (render.result_text)


class AgentState(TypedDict, total=False):
    request: str
    principal: dict[str, str]  # {"name", "role"}
    conversation_id: str
    steps: list[dict[str, Any]]  # this turn's StepRecords (a new turn starts with [])
    call: dict[str, Any] | None  # the planned call waiting to be governed
    outcome: dict[str, Any] | None  # the governed call (a StepRecord) waiting to be observed
    stop: StopReason | None
    stop_detail: str
    planner_text: str
    answer: str
    turns: Annotated[list[dict[str, Any]], operator.add]  # {"request", "answer"} per finished turn
