"""One-line human renderings of events and step results (terminal, streamed chat content)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from agent.graph.events import Event
from tools.envelope import ToolResult


def args_text(args: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in args.items())


def result_text(tool: str, result: Mapping[str, Any]) -> str:
    """A short description of a result envelope (its typed result's own `line()`)."""
    try:
        return ToolResult.model_validate(result).line(tool)
    except ValidationError:  # not an envelope: say what its status is
        return str(result.get("status"))


def step_line(step: Mapping[str, Any]) -> str:
    n = step.get("n", "")
    head = f"[{n}] {step['tool']}({args_text(step.get('args') or {})})"
    over = f"{step.get('oversight') or '-'}"
    res = step.get("result") or {}
    if res.get("status") == "pending_approval":
        return f"{head} · {over} ({step.get('risk')} risk) · waiting for approval {step.get('approval_id')}"
    return f"{head} · {over} · {result_text(step['tool'], res)}"


def event_text(ev: Event) -> str:
    """What a terminal or a chat client shows for an event ('' for events it need not show)."""
    if ev.kind in ("step", "approval"):
        return step_line(ev.data) + "\n"
    if ev.kind == "answer":
        return "\n" + str(ev.data.get("text", "")) + "\n"
    if ev.kind == "paused":
        return "\n" + str(ev.data.get("text", "")) + "\n"
    if ev.kind == "note":
        return str(ev.data.get("text", "")) + "\n"
    if ev.kind == "error":
        return f"error: {ev.data.get('message')}\n"
    return ""
