"""What the planner knows besides the current request: earlier turns of the conversation and the inventory.

`Conversation` is built by the shells (the OpenAI-compatible route from `messages`, the checkpoint of a
conversation id, a Slack thread, `keel chat`, a planner eval case's `messages` and `services`) and read by
the planner's prompt (`Earlier:` lines), by name resolution (which inventory) and by the grounded-target
check (which services the user, an alert or a tool result named). Plain frozen dataclasses, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
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


# --- earlier turns from OpenAI-style chat messages -------------------------------------------------------------

_WRITE_CALL = re.compile(r"\b(restart_service|rollback_deployment|scale_service|run_runbook)\b"
                         r"((?:\s+[a-z_]+=(?:\"[^\"]*\"|[^\s\"]+))+|\s+[A-Za-z0-9_./:-]+(?:\s+(?:to\s+)?\d+)?)")
_SUGGEST = re.compile(r"\b(?:recommend(?:ed|s)?|suggest(?:ed|s)?|next step|should I|shall I|want me to|fix)\b[^.?!]*?"
                      r"\b(restart(?:ing)?|roll(?:ing)? back|rollback|scal(?:e|ing))\s+(?:the\s+)?"
                      r"([A-Za-z0-9_./:-]+)(?:\s+(?:to|up to|down to)\s+(\d+))?", re.I)
_ROOT_CAUSE = re.compile(r"root cause (?:is|:)\s+([A-Za-z0-9_./:-]+)|points to ([A-Za-z0-9_./:-]+)|"
                         r"([A-Za-z0-9_./:-]+) is the (?:most )?likely root cause", re.I)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def _content(message: Mapping[str, Any]) -> str:
    """The text of a chat message (a string, or the text parts of a list of content parts)."""
    c = message.get("content")
    if isinstance(c, str):
        return c
    if isinstance(c, list):
        return " ".join(str(p.get("text", "")) for p in c if isinstance(p, Mapping) and p.get("type") == "text")
    return ""


def _squash(text: str) -> str:
    s = re.sub(r"[\s_\-./:]+", "", text.lower())
    for suffix in ("service", "svc"):
        if s.endswith(suffix) and len(s) > len(suffix) + 2:
            s = s[: -len(suffix)]
    return s


def _name_index(services: Sequence[str]) -> dict[str, str]:
    """Squashed surface -> inventory name, for the names (and, on the current topology, its aliases)."""
    index: dict[str, str] = {}
    if services:
        for n in services:
            index.setdefault(_squash(n), n)
        return index
    from tools.services import alias_table, service_names

    for n in service_names():
        index.setdefault(_squash(n), n)
    for alias, n in alias_table().items():
        index.setdefault(_squash(alias), n)
    return index


def mentioned_services(text: str, services: Sequence[str] = ()) -> list[str]:
    """Inventory names mentioned in `text` (as written, or as a near-variant of 1-3 words), in order of mention."""
    index = _name_index(services)
    words = re.findall(r"[A-Za-z0-9_./:-]+", text)
    found: list[str] = []
    i = 0
    while i < len(words):
        for span in (3, 2, 1):
            chunk = words[i : i + span]
            if len(chunk) < span:
                continue
            key = _squash(" ".join(chunk).strip(".:/-"))
            if key and key in index:
                if index[key] not in found:
                    found.append(index[key])
                i += span - 1
                break
        i += 1
    return found


def _recommendation(answer: str, services: Sequence[str]) -> str | None:
    """A write the answer recommends, as a compact call line, or None."""
    m = _WRITE_CALL.search(answer)
    if m:
        tool, rest = m.group(1), m.group(2).strip()
        if "=" in rest:
            return f"{tool} {rest}"
        parts = rest.replace(" to ", " ").split()
        names = mentioned_services(parts[0], services)
        svc = names[0] if names else parts[0]
        if tool == "scale_service" and len(parts) > 1:
            return f"scale_service service={svc} replicas={parts[1]}"
        return f"{tool} service={svc}" if tool != "scale_service" else None
    bare = re.search(r"\b(restart_service|rollback_deployment)\b", answer)
    if bare:
        before = mentioned_services(answer[: bare.start()], services)
        if before:
            return f"{bare.group(1)} service={before[-1]}"
    m = _SUGGEST.search(answer)
    if m:
        verb, target, n = m.group(1).lower(), m.group(2), m.group(3)
        names = mentioned_services(target, services)
        if not names:
            return None
        if verb.startswith("restart"):
            return f"restart_service service={names[0]}"
        if verb.startswith("roll"):
            return f"rollback_deployment service={names[0]}"
        if n:
            return f"scale_service service={names[0]} replicas={n}"
    return None


def _finding(answer: str) -> str | None:
    text = " ".join(answer.split())
    if not text:
        return None
    first = _SENTENCE.split(text)
    out = first[0]
    if len(out) < 40 and len(first) > 1:
        out = f"{out} {first[1]}"
    return out.rstrip(".")


def conversation_from_messages(messages: Sequence[Mapping[str, Any]], services: Sequence[str] = ()) -> Conversation:
    """Earlier turns from OpenAI chat messages (oldest first): each user message with the assistant reply after it
    becomes one `EarlierTurn`; system messages and a trailing user message without a reply (the current request)
    are left out. `services` is the inventory (empty: the current topology, with its aliases)."""
    turns: list[EarlierTurn] = []
    pending: str | None = None
    for msg in messages:
        role = str(msg.get("role", ""))
        if role == "user":
            if pending is not None:
                turns.append(_turn(pending, "", services))
            pending = _content(msg)
        elif role == "assistant" and pending is not None:
            turns.append(_turn(pending, _content(msg), services))
            pending = None
    return Conversation(earlier=tuple(turns), services=tuple(services))


def _turn(request: str, answer: str, services: Sequence[str]) -> EarlierTurn:
    in_answer = mentioned_services(answer, services)
    in_request = mentioned_services(request, services)
    rec = _recommendation(answer, services)
    rec_service = rec.split("service=", 1)[1].split()[0] if rec and "service=" in rec else None
    rec_names = mentioned_services(rec_service, services) if rec_service else []
    cause = _ROOT_CAUSE.search(answer)
    cause_names = mentioned_services(next(g for g in cause.groups() if g), services) if cause else []
    both = [n for n in in_answer if n in in_request]
    entity = next(iter(rec_names or cause_names or both or in_answer or in_request), None)
    return EarlierTurn(request=" ".join(request.split()), answer=answer, entity=entity, finding=_finding(answer),
                       recommendation=rec, services=tuple(in_answer))
