"""Grounded targets: a write may only aim at a service somebody or something in this conversation named.

One definition (`../shared/DESIGN.md`), used by the agent (before governing a planned call), by the planner
eval and its `unnamed_write_rate`, and by the keyword planner. A write's target is grounded when
(a) the user named it (name, alias or normalised variant: `tools.resolution.mentions`) in this request or
    an earlier one of the conversation;
(b) the alert that opened the incident labels it (`Conversation.alert_services`);
(c) a tool result in this conversation produced it: a root-cause candidate, a scaling recommendation, a
    runbook step's target, a health finding (this turn's results), or an earlier turn's `services` and
    open `recommendation` (in planner eval cases: services named in earlier assistant messages).
Log lines and other free text in tool results never ground a target. Neither does the free text of an alert an
operator pastes into the chat (`operator_words`): its description or summary, and anything in a label value
after the label's first word, are the alert's words, not the operator's. Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from runtime.conversation import Conversation
from tools.contract import WRITE_TOOLS
from tools.inventory import Inventory, from_names
from tools.resolution import STOP, closest_span, did_you_mean, mentioned, resolve, words
from tools.services import current_inventory

# Tools whose results produce targets, and where: every `service` value inside their data.
PRODUCING_TOOLS = frozenset({"root_cause_analysis", "recommend_scaling", "run_runbook", "check_health"})
ASK_MIN = 70.0  # a request span this like a service name (WRatio) is quoted back: "I don't see a service called X"
VERBS = {"restart_service": "restart", "scale_service": "scale", "rollback_deployment": "roll back",
         "run_runbook": "run the runbook on"}
MAX_LISTED = 8


@dataclass(frozen=True)
class TargetCheck:
    """The verdict on one planned write: grounded or not, why, and the question to ask when not."""

    tool: str
    service: str | None
    grounded: bool
    why: str
    question: str = ""


def inventory_for(context: Conversation | None) -> Inventory:
    """The inventory a conversation is about: its `services` when given (a planner eval case), else the current."""
    inv = current_inventory()
    if context is not None and context.services and set(context.services) != set(inv.names):
        return from_names(context.services, "conversation")
    return inv


def services_in_data(data: Any) -> list[str]:
    """Every string under a `service` key anywhere in a tool result's data."""
    out: list[str] = []
    if isinstance(data, Mapping):
        for k, v in data.items():
            if k == "service" and isinstance(v, str):
                out.append(v)
            else:
                out.extend(services_in_data(v))
    elif isinstance(data, list | tuple):
        for v in data:
            out.extend(services_in_data(v))
    return out


def near_variants(text: str, inventory: Inventory, max_words: int = 3) -> list[str]:
    """Services a run of 1-3 non-filler words of `text` names as a near-variant ("fronted", "recomendations"):
    the spans resolution maps to one service as it would for a read (its fuzzy rule, one definition)."""
    toks = words(text)
    out: list[str] = []
    for i in range(len(toks)):
        for n in range(1, max_words + 1):
            span = toks[i:i + n]
            if len(span) < n or any(w in STOP or w.isdigit() for w in span):
                break
            r = resolve(" ".join(span), inventory, for_write=False)
            if r.name is not None and r.name not in out:
                out.append(r.name)
    return out


_PASTED_ALERT = re.compile(r"^\s*(?:\[?FIRING\b|ALERT\b)|\balertname\s*[:=]", re.I)
_ALERT_TEXT = re.compile(r"\b(?:description|summary|message|annotations?)\s*[:=]", re.I)
_LABELS = re.compile(r"\blabels\s*[:=]\s*\{([^}]*)\}", re.I)
_LABEL_PAIR = re.compile(r'([A-Za-z_]\w*)\s*=\s*"([^"]*)"')


def operator_words(text: str) -> str:
    """What in a chat message the operator said themselves. In a pasted alert (a message starting `ALERT` or
    `[FIRING`, or carrying `alertname=`), the description, summary and annotations are cut, and each label keeps
    only its value's first word (a label names a service; a sentence in a label is not the operator's)."""
    if not _PASTED_ALERT.search(text):
        return text

    def _first_words(m: re.Match[str]) -> str:
        kept = [f'{k}="{v.split()[0]}"' for k, v in _LABEL_PAIR.findall(m.group(1)) if v.split()]
        return "labels: {" + ", ".join(kept) + "}"

    text = _LABELS.sub(_first_words, text)
    cut = _ALERT_TEXT.search(text)
    return text[:cut.start()] if cut else text


def _recommended(line: str | None) -> list[str]:
    if not line:
        return []
    from runtime.prompt import decode_call

    try:
        _, args = decode_call(line)
    except (ValueError, TypeError):
        return []
    svc = args.get("service")
    return [svc] if isinstance(svc, str) else []


def grounded_services(request: str, context: Conversation | None = None,
                      results: Iterable[tuple[str, Any]] = (), inventory: Inventory | None = None) -> dict[str, str]:
    """Service -> why it is grounded, from the request, the conversation and this turn's (tool, result data)."""
    inv = inventory or inventory_for(context)
    ctx = context or Conversation()
    why: dict[str, str] = {}
    for s in ctx.alert_services:
        why.setdefault(s, "labelled by the alert")
    for tool, data in results:
        if tool in PRODUCING_TOOLS:
            for s in services_in_data(data):
                why.setdefault(s, f"produced by {tool}")
    for turn in ctx.earlier:
        for s in list(turn.services) + _recommended(turn.recommendation):
            why.setdefault(s, "produced by a tool result earlier in the conversation")
        said = operator_words(turn.request)
        for s in mentioned(said, inv):
            why.setdefault(s, "named by the user in an earlier message")
        for s in near_variants(said, inv):
            why.setdefault(s, "named by the user in an earlier message (a near-variant)")
    said = operator_words(request)
    for s in near_variants(said, inv):
        why[s] = "named by the user (a near-variant)"
    for s in mentioned(said, inv):
        why[s] = "named by the user"
    return why


def check_target(tool: str, args: Mapping[str, Any], request: str, context: Conversation | None = None,
                 results: Iterable[tuple[str, Any]] = (), inventory: Inventory | None = None) -> TargetCheck | None:
    """The grounded-target verdict on a planned call (None for reads and notifications)."""
    if tool not in WRITE_TOOLS:
        return None
    inv = inventory or inventory_for(context)
    service = args.get("service") if isinstance(args.get("service"), str) else None
    grounded = grounded_services(request, context, results, inv)
    if service is not None and service in grounded:
        return TargetCheck(tool, service, True, grounded[service])
    why = f"{service} is not a grounded target: nobody named it" if service else f"{tool} has no target service"
    return TargetCheck(tool, service, False, why, ask_for_target(tool, request, inv, grounded))


def ask_for_target(tool: str, request: str, inventory: Inventory, grounded: Mapping[str, str] | None = None) -> str:
    """The question the agent asks instead of a write on an ungrounded target."""
    verb = VERBS.get(tool, "act on")
    named = list(grounded or {})
    span, score, near = closest_span(request, inventory)
    if span and score >= ASK_MIN and not resolve(span, inventory, for_write=True).ok:  # a name it cannot map
        return f"I don't see a service called {span}{did_you_mean(near)} Which service should I {verb}?"
    if named:
        return f"Which service should I {verb}: {_choices(named)}?"
    names = list(inventory.names)
    if not names:
        return f"I don't know of any services yet. Which service should I {verb}?"
    known = f"I know of {_choices(names)}." if len(names) <= MAX_LISTED else (
        f"I know of {len(names)} services, e.g. {', '.join(names[:MAX_LISTED])} (`keel services` lists them all).")
    return f"{known} Which service should I {verb}?"


def _choices(names: list[str], last: str = "") -> str:
    items = names + ([last] if last else [])
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"
