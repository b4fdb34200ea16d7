"""Validate a model's raw output against the tool contract and return the canonical call or why not."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agent.planner.base import RESPOND
from runtime.prompt import decode_call
from tools.contract import ContractError, canonical_args, validate_call

MAX_TEXT = 600


@dataclass(frozen=True)
class Checked:
    tool: str
    args: dict[str, Any]
    error: str | None = None
    code: str | None = None  # the contract's error code ("unknown_service", "invalid_args"), or "unparseable"
    service: str | None = None  # the service name as the model wrote it, when it did not resolve

    @property
    def ok(self) -> bool:
        return self.error is None


def check_call(tool: str, args: Any) -> Checked:
    """A decoded call checked against the contract (respond needs a non-empty text)."""
    if tool == RESPOND:
        text = args.get("text") if isinstance(args, dict) else None
        if not isinstance(text, str) or not text.strip():
            return Checked(tool, {}, "respond needs a non-empty text")
        if set(args) - {"text"}:
            return Checked(tool, {}, f"respond: unknown argument(s) {sorted(set(args) - {'text'})}")
        return Checked(tool, {"text": text.strip()[:MAX_TEXT]})
    try:
        return Checked(tool, canonical_args(validate_call(tool, args)))
    except ContractError as e:
        svc = args.get("service") if isinstance(args, dict) and e.code == "unknown_service" else None
        return Checked(tool, {}, str(e), e.code, str(svc) if svc is not None else None)


def check_output(raw: str) -> Checked:
    """Parse a raw model output line (compact or JSON form) and check it."""
    try:
        tool, args = decode_call(raw)
    except (ValueError, TypeError) as e:
        return Checked("", {}, f"unparseable output: {e}", "unparseable")
    return check_call(tool, args)
