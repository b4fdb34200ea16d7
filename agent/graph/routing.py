"""Edges of the graph: where to go after planning, governing and waiting for a person."""

from __future__ import annotations

from typing import Literal

from agent.graph.state import AgentState


def after_plan(state: AgentState) -> Literal["govern", "respond"]:
    """A planned call is governed; a stop (respond, step limit, repeat, planning failure) answers."""
    return "govern" if state.get("call") and not state.get("stop") else "respond"


def after_govern(state: AgentState) -> Literal["await_approval", "observe"]:
    """An action that needs a person pauses; anything else (ran, denied, invalid) is observed."""
    outcome = state.get("outcome") or {}
    return "await_approval" if outcome.get("result", {}).get("status") == "pending_approval" else "observe"


def after_approval(state: AgentState) -> Literal["act", "observe"]:
    """Approved actions run; denied ones are observed as denied."""
    outcome = state.get("outcome") or {}
    return "act" if outcome.get("result", {}).get("status") == "pending_approval" else "observe"
