"""The planner's prompt format and compact call format, shared by training data, serving and evals.

A prompt is one `Earlier:` line per previous exchange of the conversation (request, main entity, last
finding, open recommendation; the last few only), the operator's request, and one compact line per executed
step; the model answers with one compact call line
(`query_metrics service=checkoutservice metric=latency_p99 window=1h`), which
`decode_call` maps back to the contract form `{"tool", "args"}`. The summary prompt turns a findings
dict into 1-3 sentences.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from runtime.conversation import Conversation, EarlierTurn
from tools.envelope import ToolResult

CALL_PREFIX = "Call:"
SUMMARY_PREFIX = "Summary:"
MAX_REQUEST_CHARS = 400
MAX_OBS_CHARS = 160
MAX_HISTORY = 6
EARLIER_TURNS = 3  # Earlier: lines in a prompt (the most recent exchanges)
MAX_EARLIER_REQUEST = 80
MAX_EARLIER_FINDING = 90

_BARE = re.compile(r"^[A-Za-z0-9_#./:@+-]+$")
_PAIR = re.compile(r'\s*([a-z_]+)=("(?:[^"\\]|\\.)*"|[^\s"]+)')
_INT_ARGS = ("replicas", "limit")


class StepLike(Protocol):
    """Anything with a tool, its args and its result (read-only: frozen dataclasses qualify)."""

    @property
    def tool(self) -> str: ...

    @property
    def args(self) -> Mapping[str, Any]: ...

    @property
    def result(self) -> ToolResult: ...


def _value(v: Any) -> str:
    s = str(v)
    return s if _BARE.match(s) else json.dumps(s, ensure_ascii=False)


def encode_call(tool: str, args: Mapping[str, Any]) -> str:
    """The compact one-line form of a call: `tool key=value ...` (strings with spaces JSON-quoted)."""
    parts = [tool] + [f"{k}={_value(v)}" for k, v in args.items() if v is not None]
    return " ".join(parts)


def decode_call(text: str) -> tuple[str, dict[str, Any]]:
    """Parse a compact call line; raise ValueError naming what is wrong."""
    line = text.strip().splitlines()[0].strip() if text.strip() else ""
    if not line:
        raise ValueError("empty output")
    if line.startswith("{"):
        obj = json.loads(line)
        if not isinstance(obj, dict) or "tool" not in obj:
            raise ValueError("JSON output without a tool")
        return str(obj["tool"]), dict(obj.get("args") or {})
    tool, _, rest = line.partition(" ")
    if not re.fullmatch(r"[a-z_]+", tool):
        raise ValueError(f"bad tool name {tool!r}")
    args: dict[str, Any] = {}
    pos = 0
    rest = rest.rstrip()
    while pos < len(rest):
        m = _PAIR.match(rest, pos)
        if m is None:
            raise ValueError(f"cannot parse arguments at {rest[pos:]!r}")
        key, raw = m.group(1), m.group(2)
        val: Any = json.loads(raw) if raw.startswith('"') else raw
        if key in _INT_ARGS and isinstance(val, str) and val.isdigit():
            val = int(val)
        args[key] = val
        pos = m.end()
    return tool, args


def render_observation(tool: str, args: Mapping[str, Any], result: ToolResult) -> str:
    """One compact line for an executed step, e.g. `query_metrics paymentservice latency_p99: 250->730ms`: the
    call's main arguments, then the result's own observation (`tools.results`)."""
    head = " ".join([tool] + [str(v) for k, v in args.items() if k in ("service", "metric", "name", "level", "query")
                              and v not in (None, "")])
    return f"{head}: {result.observation(tool)}"[:MAX_OBS_CHARS]


def _short(text: str, limit: int) -> str:
    return " ".join(str(text).split())[:limit]


def render_earlier(turn: EarlierTurn) -> str:
    """One compact line for an earlier exchange:
    `Earlier: why is cart slow? | about redis-cart | found redis-cart crash |
    next restart_service service=redis-cart` (one line)."""
    parts = [_short(turn.request, MAX_EARLIER_REQUEST)]
    if turn.entity:
        parts.append(f"about {turn.entity}")
    if turn.finding:
        parts.append("found " + _short(turn.finding, MAX_EARLIER_FINDING))
    if turn.recommendation:
        parts.append("next " + _short(turn.recommendation, MAX_EARLIER_FINDING))
    return "Earlier: " + " | ".join(parts)


def earlier_lines(context: Conversation | None) -> list[str]:
    """The `Earlier:` lines of a conversation (the last `EARLIER_TURNS` exchanges, oldest first)."""
    if context is None:
        return []
    return [render_earlier(t) for t in context.last(EARLIER_TURNS)]


def render_prompt(request: str, history: Sequence[StepLike] = (), context: Conversation | None = None) -> str:
    """The planning prompt: earlier exchanges, the request, the last few observations, and the call prefix."""
    observations = [render_observation(step.tool, step.args, step.result) for step in history]
    return render_observations_prompt(request, observations, earlier_lines(context))


def render_observations_prompt(request: str, observations: Sequence[str], earlier: Sequence[str] = ()) -> str:
    """The planning prompt from already-rendered `Earlier:` and observation lines (training data)."""
    req = " ".join(request.split())[:MAX_REQUEST_CHARS]
    return "\n".join([*earlier, f"Request: {req}", *(f"Seen: {o}" for o in list(observations)[-MAX_HISTORY:]),
                      CALL_PREFIX])


def compact_findings(findings: Mapping[str, Any]) -> str:
    return json.dumps(findings, separators=(",", ":"), ensure_ascii=False, default=str)[:600]


def render_summary_prompt(findings: Mapping[str, Any]) -> str:
    """The summary prompt: compact findings JSON, then the summary prefix."""
    return f"Findings: {compact_findings(findings)}\n{SUMMARY_PREFIX}"
