"""Incident summaries: the findings dict shape, a deterministic template summary, and a grounding check.

Findings (all keys optional):
  {"request": str,
   "symptom": {"service", "metric", "before", "now", "unit"},
   "root_cause": {"service", "score"},
   "evidence": [str, ...],
   "actions": [{"tool", "service", "status", "replicas"?}],
   "status": "open" | "mitigated" | "resolved"}
Other keys are tolerated; the grounding check only accepts numbers and services that appear in them.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Mapping
from typing import Any

from tools.services import service_names

_ACTION_WORDS = {
    "restart_service": ("was restarted", "restart of {svc}"),
    "rollback_deployment": ("was rolled back", "rollback of {svc}"),
    "scale_service": ("was scaled to {replicas} replicas", "scaling of {svc} to {replicas} replicas"),
    "run_runbook": ("had a runbook run against it", "runbook on {svc}"),
}
_STATUS_WORDS = {"ok": "done", "pending_approval": "awaiting approval", "denied": "denied", "error": "failed"}


def fmt(x: Any) -> str:
    """Numbers as the summary prints them (so the grounding check sees the same text)."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        return str(x)
    if isinstance(x, float) and not x.is_integer():
        return f"{x:.3g}" if abs(x) < 10 else f"{x:.0f}"
    return str(int(x))


def _metric_phrase(m: str) -> str:
    return {"latency_p99": "p99 latency", "latency_p50": "p50 latency", "error_rate": "error rate",
            "queue_depth": "queue depth", "cpu": "CPU", "memory": "memory"}.get(m, m)


def template_summary(findings: Mapping[str, Any], variant: int = 0) -> str:
    """A 1-3 sentence summary built only from the findings; `variant` picks the wording."""
    rng = random.Random(variant)
    out: list[str] = []
    sym = findings.get("symptom") or {}
    if isinstance(sym, Mapping) and sym.get("service"):
        unit = str(sym.get("unit") or "")
        m = _metric_phrase(str(sym.get("metric") or "latency_p99"))
        svc = sym["service"]
        if "before" in sym and "now" in sym:
            b, n = fmt(sym["before"]) + unit, fmt(sym["now"]) + unit
            out.append(rng.choice([f"{svc} {m} rose from {b} to {n}.", f"{svc} {m} went from {b} to {n}.",
                                   f"{m} on {svc} moved from {b} to {n}."]) if variant else
                       f"{svc} {m} went from {b} to {n}.")
        elif "now" in sym:
            out.append(f"{svc} {m} is at {fmt(sym['now'])}{unit}.")
        else:
            out.append(f"{svc} showed abnormal {m}.")
    rc = findings.get("root_cause") or {}
    if isinstance(rc, Mapping) and rc.get("service"):
        score = f" (score {fmt(rc['score'])})" if rc.get("score") is not None else ""
        out.append(rng.choice([f"Root cause analysis points to {rc['service']}{score}.",
                               f"The likely root cause is {rc['service']}{score}.",
                               f"{rc['service']} is the most likely root cause{score}."]) if variant else
                   f"The likely root cause is {rc['service']}{score}.")
    acts = [a for a in findings.get("actions") or [] if isinstance(a, Mapping) and a.get("tool") in _ACTION_WORDS]
    if acts:
        a = acts[-1]
        done, noun = _ACTION_WORDS[str(a["tool"])]
        status = str(a.get("status", "ok"))
        svc = a.get("service", "the service")
        reps = fmt(a.get("replicas", "?"))
        if status == "ok":
            out.append(f"{svc} " + done.format(replicas=reps) + ".")
        else:
            out.append(f"The {noun.format(svc=svc, replicas=reps)} is {_STATUS_WORDS.get(status, status)}.")
    if not out:
        ev = [str(e) for e in findings.get("evidence") or []]
        out.append(f"Findings so far: {ev[0]}." if ev else "No findings yet.")
    return " ".join(out[:3])


_NUM = re.compile(r"(?<![\w.])\d+(?:\.\d+)?")


def grounded(summary: str, findings: Mapping[str, Any]) -> bool:
    """True when every number and service named in `summary` also appears in the findings."""
    blob = json.dumps(findings, default=str)
    nums = set(_NUM.findall(blob))
    nums |= {fmt(float(n)) for n in nums}
    for n in _NUM.findall(summary):
        if n not in nums and fmt(float(n)) not in nums:
            return False
    named = {s for s in service_names() if re.search(rf"\b{re.escape(s)}\b", summary)}
    return all(s in blob for s in named)
