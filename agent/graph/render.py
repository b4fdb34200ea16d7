"""One-line human renderings of events and step results (terminal, streamed chat content)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from agent.graph.events import Event


def args_text(args: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in args.items())


def result_text(tool: str, result: Mapping[str, Any]) -> str:
    """A short description of a result envelope."""
    status, data, error = result.get("status"), result.get("data"), result.get("error")
    if status not in ("ok", "no_data"):
        return f"{status}: {error}" if error else str(status)
    if not isinstance(data, Mapping):
        return str(status)
    if tool == "query_metrics" and "current" in data:
        return f"{data['current']} {data['unit']} now (start {data['start']}, max {data['max']})"
    if tool == "search_logs":
        lines = data.get("lines") or []
        top = f'; latest "{lines[0]["message"]}"' if lines else ""
        return f"{data.get('total_matches', 0)} matching lines{top}"
    if tool == "get_topology":
        if "services" in data:
            return f"{len(data['services'])} services"
        return f"calls {', '.join(data.get('callees', [])) or 'nothing'}"
    if tool == "root_cause_analysis":
        ranking = data.get("ranking") or []
        return "ranking: " + ", ".join(str(r.get("service")) for r in ranking[:3]) if ranking else "no ranking"
    return ", ".join(f"{k} {v}" for k, v in data.items() if isinstance(v, str | int | float))[:200] or str(status)


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
    if ev.kind == "error":
        return f"error: {ev.data.get('message')}\n"
    return ""
