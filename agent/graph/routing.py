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
    """Approved actions run; denied ones are observed as denied, except a runbook step's: its run is resumed
    (it records the denial and goes on as the step's on_failure says)."""
    outcome = state.get("outcome") or {}
    pending = outcome.get("result", {}).get("status") == "pending_approval"
    return "act" if pending or outcome.get("run_id") else "observe"


def after_act(state: AgentState) -> Literal["await_approval", "observe"]:
    """A resumed runbook that paused on a later step waits again; anything else is observed."""
    return after_govern(state)
