"""The narrative sentences of an incident summary: the summary model's, if grounded, else a template.

The model's text is used only when every number and every service name in it occurs in the findings;
otherwise (or when no model is loaded, or it fails) a deterministic template over the findings is used.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Protocol

from agent.summary.findings import Findings, num
from tools.services import names_alternation

log = logging.getLogger(__name__)

_NUMBER = re.compile(r"(?<![A-Za-z_\d.])\d+(?:\.\d+)?")
_WORDS = {"latency_p99": "p99 latency", "latency_p50": "p50 latency", "error_rate": "error rate",
          "cpu": "CPU", "memory": "memory", "throughput": "throughput", "queue_depth": "queue depth",
          "replicas": "ready replicas"}
_DONE = {"scale_service": "scaled", "restart_service": "restarted", "rollback_deployment": "rolled back"}


class Summarizer(Protocol):
    def summarize(self, findings: dict[str, Any]) -> str: ...


def numbers_in(text: str) -> set[str]:
    return set(_NUMBER.findall(text))


def services_in(text: str) -> set[str]:
    """The current topology's service names found in a text."""
    return set(re.findall(r"(?<![\w-])(" + names_alternation() + r")(?![\w-])", text))


def _canon(n: str) -> str:
    v = float(n)
    return str(int(v)) if v.is_integer() else repr(v)


def _renderings(x: float) -> tuple[str, ...]:
    """The ways a findings number may be printed: as is, as the summary blocks print it, and as the summary
    model was trained to print it (3 significant digits below 10, whole numbers above)."""
    model = f"{x:.3g}" if abs(x) < 10 else f"{x:.0f}"
    return repr(x), num(x), model


def ungrounded(text: str, findings: Findings) -> list[str]:
    """Numbers and service names in `text` that do not occur in the findings (empty: grounded)."""
    source = findings.text()
    raw = numbers_in(source)
    known = {_canon(r) for n in raw for r in _renderings(float(n))}
    missing = [n for n in sorted(numbers_in(text)) if _canon(n) not in known]
    missing += sorted(services_in(text) - services_in(source))
    return missing


MAX_CHARS = 600
MAX_SENTENCES = 4


def unfit(text: str, f: Findings) -> list[str]:
    """Shape problems of a model narrative: too long, repetitive, or not about the incident's services."""
    out = []
    sentences = [x.strip().lower() for x in re.split(r"(?<=[.!?])\s+", text) if x.strip()]
    if len(text) > MAX_CHARS:
        out.append(f"longer than {MAX_CHARS} characters")
    if len(sentences) > MAX_SENTENCES:
        out.append(f"more than {MAX_SENTENCES} sentences")
    if len(set(sentences)) < len(sentences):
        out.append("repeats a sentence")
    if services_in(f.text()) and not services_in(text):
        out.append("names none of the incident's services")
    out += _wrong_change(text, f)
    return out


_CHANGE = re.compile(r"\bfrom\s+(\d+(?:\.\d+)?)\s*\S*\s+to\s+(\d+(?:\.\d+)?)")


def _wrong_change(text: str, f: Findings) -> list[str]:
    """A "from A to B" must be the symptom's change: start -> value, or value -> the state after acting."""
    if f.symptom is None:
        return []
    pairs = []
    if f.state is not None:
        pairs.append((f.symptom.value, f.state.value))
    if f.symptom.start is not None:
        pairs.append((f.symptom.start, f.symptom.value))
    if not pairs:
        return []
    out = []
    for a, b in _CHANGE.findall(text):
        if not any(_canon(a) in {_canon(r) for r in _renderings(x)} and _canon(b) in {_canon(r) for r in _renderings(y)}
                   for x, y in pairs):
            out.append(f"'from {a} to {b}' is not the symptom's change")
    return out


def template(f: Findings) -> str:
    """Two to four sentences built only from the findings' own values."""
    out: list[str] = []
    if f.symptom:
        s = f.symptom
        what = _WORDS.get(s.metric, s.metric)
        if s.start is not None and s.start != s.value:
            out.append(f"{s.service} {what} was {num(s.value)} {s.unit}, up from {num(s.start)} {s.unit} at the "
                       f"start of the last {s.window}." if s.value > s.start else
                       f"{s.service} {what} was {num(s.value)} {s.unit} ({num(s.start)} {s.unit} at the start of "
                       f"the last {s.window}).")
        else:
            out.append(f"{s.service} {what} was {num(s.value)} {s.unit}.")
    if f.root_cause:
        score = f" (score {num(f.root_cause.score)})" if f.root_cause.score is not None else ""
        out.append(f"Root-cause analysis ranks {f.root_cause.service} first{score}.")
    for a in f.actions:
        target = a.service or "the service"
        if a.status == "ok":
            verb = _DONE.get(a.tool, a.tool)
            extra = f" to {num(a.args['replicas'])} replicas" if a.tool == "scale_service" else ""
            how = f" under {a.oversight}" if a.oversight else ""
            by = f", approved by {a.approved_by}" if a.approved_by else ""
            out.append(f"{target} was {verb}{extra}{how}{by}.")
        elif a.status == "pending_approval":
            out.append(f"{a.tool} on {target} waits for approval.")
        else:
            out.append(f"{a.tool} on {target} did not run ({a.status}).")
    if f.state and f.symptom:
        what = _WORDS.get(f.state.metric, f.state.metric)
        out.append(f"{f.state.service} {what} is now {num(f.state.value)} {f.state.unit}.")
    if not out:
        out.append(f"No measurements were collected for {f.title}.")
    return " ".join(out)


def _planner_template(f: Findings) -> str:
    try:
        from agent.planner.summary import template_summary
    except ImportError:
        return ""
    return template_summary(f.for_planner())


def narrative(f: Findings, summarizer: Summarizer | None = None) -> tuple[str, str]:
    """(text, source): source is `model` when the summary model's text was grounded, else `template`."""
    if summarizer is not None:
        try:
            text = (summarizer.summarize(f.for_planner()) or "").strip()
        except Exception:  # the model is optional; the template stands on its own
            log.warning("summary model failed; using the template", exc_info=True)
            text = ""
        if text and text == _planner_template(f):
            text = ""  # the model fell back to its own template: say so by using ours
        if text:
            problems = ungrounded(text, f) + unfit(text, f)
            if not problems:
                return text, "model"
            log.info("model summary rejected (%s); using the template", "; ".join(problems))
    return template(f), "template"


class LockedSummarizer:
    """A summary model shared with the agent: calls hold the agent's model lock."""

    def __init__(self, model: Summarizer, lock: Any) -> None:
        self.model, self.lock = model, lock

    def summarize(self, findings: dict[str, Any]) -> str:
        with self.lock:
            return self.model.summarize(findings)


class LazySummarizer:
    """Loads the planner (the fine-tuned model) on first use; a load failure means the template is used."""

    def __init__(self, kind: str = "llama", adapter: str | None = "default") -> None:
        self.kind, self.adapter = kind, adapter

    def summarize(self, findings: dict[str, Any]) -> str:
        from agent.planner import load_planner

        return load_planner(self.kind, self.adapter).summarize(findings)
