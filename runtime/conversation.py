"""What the planner knows besides the current request: earlier turns of the conversation and the inventory.

`Conversation` is built by the shells (the OpenAI-compatible route from `messages`, the checkpoint of a
conversation id, a Slack thread, `keel chat`, a planner eval case's `messages` and `services`) and read by
the planner's prompt (`Earlier:` lines), by name resolution (which inventory) and by the grounded-target
check (which services the user, an alert or a tool result named). Plain frozen dataclasses, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

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
