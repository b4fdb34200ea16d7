"""The Planner API the agent graph plans with: executed steps in, one validated call (or a reply) out.

`PlannedCall.args` are canonical (validated, aliases resolved, defaults filled) for tool calls, or
{"text": ...} for `respond`. `ok=False` means the planner could not produce a valid call even under the
grammar; `args["text"]` then says so. `summarize(findings)` writes 1-3 grounded sentences (the findings
shape is documented in `runtime.summary`). `context` carries earlier turns and the inventory
(`runtime.conversation`); planners that do not use it ignore it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from runtime.conversation import Conversation
from tools.envelope import ToolResult

RESPOND = "respond"
COULD_NOT_PLAN = "Sorry, I could not plan that. Try naming the service and what you want to check or change."


@dataclass(frozen=True)
class Step:
    """One executed step the planner can see."""

    tool: str
    args: dict
    result: ToolResult


@dataclass(frozen=True)
class PlannedCall:
    tool: str  # a contract tool name or "respond"
    args: dict  # canonical args, or {"text": ...} for respond
    raw: str  # the model's raw output
    constrained: bool  # True when the grammar fallback produced it
    latency_ms: float
    ok: bool  # False -> could not plan; args["text"] explains


class Planner(Protocol):
    name: str

    def plan(self, request: str, history: Sequence[Step] = (),
             context: Conversation | None = None) -> PlannedCall: ...

    def summarize(self, findings: dict) -> str: ...


def could_not_plan(raw: str, latency_ms: float, constrained: bool = True) -> PlannedCall:
    return PlannedCall(RESPOND, {"text": COULD_NOT_PLAN}, raw, constrained, latency_ms, False)
