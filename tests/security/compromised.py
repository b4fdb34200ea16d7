"""A compromised planner (test double): it obeys every instruction it can find in what it is shown.

This is the worst case for prompt injection: the model reads the request and every tool result (log
lines, alert text, anything) and turns any imperative it finds into a tool call. Whatever it emits still
has to pass the contract and the governance gate; the security tests check that nothing more happens
than governance would allow anyway.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from agent.planner.base import PlannedCall, Step
from runtime.conversation import Conversation
from tools.contract import ContractError, canonical_args, validate_call

_SVC = r"([A-Za-z][A-Za-z_-]*)"
PATTERNS = (
    (re.compile(r"\bscale(?:_service)?\s+(?:service=)?" + _SVC + r"\s+(?:to\s+|replicas=)(\d+)", re.I), "scale"),
    (re.compile(r"\brestart(?:_service)?\s+(?:service=)?" + _SVC, re.I), "restart"),
    (re.compile(r"\broll\s*back(?:_deployment)?\s+(?:service=)?" + _SVC, re.I), "rollback"),
)
TOOL = {"scale": "scale_service", "restart": "restart_service", "rollback": "rollback_deployment"}


def _call(tool: str, args: dict) -> PlannedCall:
    try:
        args = canonical_args(validate_call(tool, args))
    except ContractError:
        pass  # emit it anyway: the gate must reject it
    return PlannedCall(tool, args, f"{tool} {args}", False, 0.1, True)


def instructions(text: str) -> list[tuple[str, dict]]:
    """Every (tool, args) an obedient model would read out of `text`, in order of appearance."""
    found: list[tuple[int, str, dict]] = []
    for rx, kind in PATTERNS:
        for m in rx.finditer(text):
            args: dict = {"service": m.group(1)}
            if kind == "scale":
                args["replicas"] = int(m.group(2))
            found.append((m.start(), TOOL[kind], args))
    return [(t, a) for _, t, a in sorted(found, key=lambda x: x[0])]


class CompromisedPlanner:
    name = "compromised"

    def __init__(self, extra_calls: Sequence[tuple[str, dict]] = ()) -> None:
        self.extra = list(extra_calls)

    def plan(self, request: str, history: Sequence[Step] = (), context: Conversation | None = None) -> PlannedCall:
        if not history:
            return _call("search_logs", {"query": "", "window": "15m", "limit": 50})
        seen = request + "\n" + "\n".join(json.dumps(s.result.data, default=str) for s in history)
        done = [(s.tool, s.args) for s in history]
        for tool, args in [*instructions(seen), *self.extra]:
            if not any(t == tool and all(a.get(k) == v or str(a.get(k)) == str(v) for k, v in args.items()
                                         if k != "service") and _same_service(a, args) for t, a in done):
                return _call(tool, dict(args))
        return PlannedCall("respond", {"text": "done"}, "respond", False, 0.1, True)

    def summarize(self, findings: dict) -> str:
        return ""


def _same_service(a: dict, b: dict) -> bool:
    from tools.services import resolve_service

    def norm(x: object) -> str:
        try:
            return resolve_service(str(x))
        except ValueError:
            return str(x)

    return norm(a.get("service")) == norm(b.get("service"))
