"""What the planner knows besides the current request: earlier turns of the conversation and the inventory.

`Conversation` is built by the shells (the OpenAI-compatible route from `messages`, the checkpoint of a
conversation id, a Slack thread, `keel chat`, a planner eval case's `messages` and `services`) and read by
the planner's prompt (`Earlier:` lines), by name resolution (which inventory) and by the grounded-target
check (which services the user, an alert or a tool result named). Plain frozen dataclasses, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_EARLIER = 4


@dataclass(frozen=True)
class EarlierTurn:
    """One earlier exchange, compacted: the request, the main entity, the last finding, an open recommendation."""

    request: str
    answer: str = ""  # the assistant's reply text, as shown to the user
    entity: str | None = None  # the service the exchange was about
    finding: str | None = None  # the last finding, one short line
    recommendation: str | None = None  # a compact call line recommended and not yet applied
    services: tuple[str, ...] = ()  # services a tool result of that turn produced (grounded-target rule (c))


@dataclass(frozen=True)
class Conversation:
    """The context of one planning request; the empty default means a first message on the current topology."""

    earlier: tuple[EarlierTurn, ...] = ()
    services: tuple[str, ...] = ()  # the inventory's names; empty means the current topology's
    alert_services: tuple[str, ...] = ()  # services labelled by the alert that opened the incident

    def last(self, n: int = MAX_EARLIER) -> tuple[EarlierTurn, ...]:
        return self.earlier[-n:]


def conversation_from_messages(messages: list[dict[str, Any]] | tuple[dict[str, Any], ...],
                               services: tuple[str, ...] | list[str] = ()) -> Conversation:
    """A Conversation from earlier OpenAI chat messages (oldest first, the current request not included).

    Each user message starts an earlier turn (`request`); the assistant messages after it are its `answer`.
    Services of the inventory (`services`, else the current one) named in an assistant message count as
    produced by a tool result of that turn (`services`): in planner eval cases the earlier assistant
    messages stand for tool results. System and tool messages are skipped. Content may be a string or a
    list of `{"type": "text", "text": ...}` parts."""
    from tools.inventory import from_names
    from tools.resolution import mentioned
    from tools.services import current_inventory

    inv = from_names(services, "conversation") if services else current_inventory()
    turns: list[EarlierTurn] = []
    for m in messages:
        role, text = m.get("role"), _text(m.get("content"))
        if role == "user":
            turns.append(EarlierTurn(request=text))
        elif role == "assistant" and turns:
            last = turns[-1]
            answer = f"{last.answer}\n{text}".strip()
            named = tuple(dict.fromkeys(last.services + tuple(mentioned(text, inv))))
            turns[-1] = EarlierTurn(last.request, answer, last.entity, last.finding, last.recommendation, named)
    return Conversation(earlier=tuple(turns), services=tuple(services))


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""
