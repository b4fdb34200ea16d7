"""The grounded final answer: a deterministic template over the turn's tool results.

The planner is a small model, so its text is never trusted for numbers or service names: the answer is
composed from the findings (symptoms, root-cause ranking, logs, actions and their oversight), and the
planner's own sentence is added only when every number and service name in it occurs in the findings.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from tools.contract import WRITE_TOOLS
from tools.results import (
    CallGraph,
    HealthFinding,
    HealthReport,
    LogMatches,
    MetricSeries,
    Neighbours,
    ResultData,
    RootCauseRanking,
    ScalingRecommendation,
    compact_number,
    typed,
)

_SCORE_KEYS = ("score", "probability", "confidence", "rank_score")
_FINDINGS_KEY: dict[type[ResultData], str] = {MetricSeries: "symptoms", CallGraph: "topology", Neighbours: "topology",
                                              ScalingRecommendation: "scaling"}


def _num(v: Any) -> str:
    return json.dumps(v) if isinstance(v, int | float) and not isinstance(v, bool) else str(v)


def collect_findings(request: str, steps: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Group the turn's step results by what they tell: symptoms, causes, logs, topology, actions, errors.
    Each read contributes its typed result's `facts()` (`tools.results`)."""
    f: dict[str, Any] = {"request": request, "symptoms": [], "root_causes": [], "logs": [], "topology": [],
                         "scaling": [], "actions": [], "errors": [], "health": []}
    for s in steps:
        tool, res = s["tool"], s.get("result") or {}
        status, data = res.get("status"), res.get("data") or {}
        view = typed(tool, data)
        if tool in WRITE_TOOLS or tool == "post_incident_summary":
            f["actions"].append({
                "tool": tool, "args": s.get("args", {}), "status": status, "oversight": s.get("oversight"),
                "risk": s.get("risk"), "reasons": list(s.get("reasons") or []), "approval_id": s.get("approval_id"),
                "approved_by": s.get("approved_by"), "data": data if status == "ok" else None,
                "error": res.get("error"),
            })
        elif status == "error":
            f["errors"].append({"tool": tool, "error": res.get("error")})
        elif status == "ok" and isinstance(view, RootCauseRanking):
            f["root_causes"] = [c.to_data() for c in view.ranking]
            f["rca_inconclusive"] = view.verdict if view.inconclusive else None
        elif status == "ok" and isinstance(view, MetricSeries | CallGraph | Neighbours | ScalingRecommendation):
            f[_FINDINGS_KEY[type(view)]].append(view.facts())
        elif status == "ok" and isinstance(view, HealthReport):
            f["health"].append(view.facts())
        elif isinstance(view, LogMatches) and data:
            f["logs"].append(view.facts())
    return f


def _score(c: Mapping[str, Any]) -> str:
    for k in _SCORE_KEYS:
        if isinstance(c.get(k), int | float):
            return f" ({k} {_num(c[k])})"
    return ""


def _largest_rise(symptoms: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Among queried latency/error series of two or more services, the one that rose most relative to its start."""
    by_metric: dict[str, list[Mapping[str, Any]]] = {}
    for s in symptoms:
        by_metric.setdefault(s["metric"], []).append(s)
    best, best_ratio = None, 1.0
    for metric, rows in by_metric.items():
        if len({r["service"] for r in rows}) < 2 or metric in ("replicas", "throughput"):
            continue
        for r in rows:
            ratio = float(r["current"]) / max(float(r["start"]), 1e-9)
            if ratio > best_ratio:
                best, best_ratio = dict(r), ratio
    return best


def _signature_text(c: Mapping[str, Any]) -> str:
    """` (crash: replicas running 2->0)` from a candidate's signature, when it has one with a known kind."""
    sig = c.get("signature")
    if not isinstance(sig, Mapping) or sig.get("kind") in (None, "unclear"):
        return ""
    return f" ({str(sig['kind']).replace('_', ' ')}: {sig.get('because', '')})"


def _args_text(args: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={_num(v)}" for k, v in args.items())


def _action_line(a: Mapping[str, Any]) -> str:
    head = f"{a['tool']}({_args_text(a['args'])})"
    over = f"{a['oversight']}, {a['risk']} risk" if a.get("oversight") else "not governed"
    why = "; ".join(a["reasons"]) if a.get("reasons") else ""
    if a["status"] == "pending_approval":
        return f"{head}: needs approval ({over}), waiting for an approver (approval {a['approval_id']})" + (
            f": {why}" if why else "")
    if a["status"] == "denied":
        return f"{head}: not run, {a.get('error') or why or 'denied'} ({over})"
    if a["status"] == "ok":
        by = f", approved by {a['approved_by']}" if a.get("approved_by") else ""
        detail = ", ".join(f"{k} {_num(v)}" for k, v in (a.get("data") or {}).items()  # scalars: not a run's steps
                           if isinstance(v, str | int | float)) if isinstance(a.get("data"), Mapping) else ""
        return f"{head}: done ({over}{by})" + (f": {detail}" if detail else "")
    return f"{head}: failed: {a.get('error')}"


def headline(f: Mapping[str, Any]) -> str:
    pending = [a for a in f["actions"] if a["status"] == "pending_approval"]
    denied = [a for a in f["actions"] if a["status"] == "denied"]
    if pending:
        a = pending[0]
        return f"{a['tool']} on {a['args'].get('service', a['args'])} needs approval before it runs."
    if denied:
        a = denied[0]
        return f"I did not run {a['tool']}: {a.get('error') or 'it was denied'}."
    if f["root_causes"] and f.get("rca_inconclusive"):
        return f"Root-cause analysis {f['rca_inconclusive']}."
    if f["root_causes"]:
        top = f["root_causes"][0]
        return f"Most likely root cause: {top['service']}{_signature_text(top)}."
    rise = _largest_rise(f["symptoms"])
    if rise:
        return f"{rise['service']} shows the largest {rise['metric']} rise among the services I checked."
    if f.get("health"):
        return _health_headline(f["health"][-1])
    done = [a for a in f["actions"] if a["status"] == "ok"]
    if done:
        return f"Done: {done[0]['tool']} on {done[0]['args'].get('service', '')}.".replace(" on .", ".")
    return ""


def _health_headline(h: Mapping[str, Any]) -> str:
    bad = h["unhealthy"]
    scope = h["service"] or f"all {h['checked']} services"
    if not bad:
        return f"Nothing is out of line now: {scope} checked over the last {h['window']}."
    names = ", ".join(s["service"] for s in bad)
    return f"{len(bad)} of {h['checked']} services out of line now, worst first: {names}."


def _health_line(s: Mapping[str, Any]) -> str:
    parts = [f"{HealthFinding.model_validate(x).text()}, {compact_number(x['severity'])}x over" for x in s["findings"]]
    return f"- {s['service']}: " + "; ".join(parts) + "."


def compose(f: Mapping[str, Any], stop_note: str = "", planner_sentence: str = "") -> str:
    """The final answer text. Every number in it is copied from a tool result."""
    out: list[str] = []
    head = headline(f)
    if head:
        out.append(head)
    for s in f["symptoms"]:
        out.append(f"- {s['service']} {s['metric']}: {_num(s['current'])} {s['unit']} now, {_num(s['start'])} at the "
                   f"start of the last {s['window']}, max {_num(s['max'])}.")
    if f["root_causes"]:
        ranked = [f"{c['service']}{_score(c)}" for c in f["root_causes"][:3]]
        out.append("- Root-cause ranking: " + ", then ".join(ranked) + ".")
    for g in f["logs"]:
        where = g["service"] or "all services"
        latest = f" Latest: \"{g['latest']}\" ({g['latest_service']})." if g["latest"] else ""
        out.append(f"- Logs of {where}{' at level ' + g['level'] if g['level'] else ''}: "
                   f"{_num(g['total_matches'])} matching lines.{latest}")
    for t in f["topology"]:
        if "services" in t:
            out.append(f"- Services in the call graph: {', '.join(t['services'])}.")
        elif "service" in t:
            out.append(f"- {t['service']} calls {', '.join(t['callees']) or 'nothing'}; called by "
                       f"{', '.join(t['callers']) or 'nobody'}.")
    if f.get("health"):  # the latest check is the current picture
        out.extend(_health_line(s) for s in f["health"][-1]["unhealthy"][:5])
    for r in f["scaling"]:
        out.append("- Scaling recommendation: " + ", ".join(f"{k} {_num(v)}" for k, v in r.items()
                                                            if isinstance(v, str | int | float)) + ".")
    for a in f["actions"]:
        out.append("- " + _action_line(a))
    for e in f["errors"]:
        out.append(f"- {e['tool']} failed: {e['error']}")
    if planner_sentence:
        out.append(planner_sentence)
    if stop_note:
        out.append(stop_note)
    return "\n".join(out)


def planner_findings(f: Mapping[str, Any]) -> dict[str, Any]:
    """The findings in the shape the planner's summarizer reads (runtime/summary.py)."""
    out: dict[str, Any] = {"request": f["request"]}
    if f["symptoms"]:
        s = f["symptoms"][0]
        out["symptom"] = {"service": s["service"], "metric": s["metric"], "before": s["start"], "now": s["current"],
                          "unit": s["unit"]}
    if f["root_causes"]:
        top = f["root_causes"][0]
        out["root_cause"] = {"service": top["service"], **{k: top[k] for k in _SCORE_KEYS[:1] if k in top}}
    elif (rise := _largest_rise(f["symptoms"])) is not None:
        out["root_cause"] = {"service": rise["service"]}
    evidence = [g["latest"] for g in f["logs"] if g["latest"]]
    if evidence:
        out["evidence"] = evidence
    actions = [{"tool": a["tool"], "service": a["args"].get("service"), "status": a["status"],
                **({"replicas": a["args"]["replicas"]} if "replicas" in a["args"] else {})} for a in f["actions"]]
    if actions:
        out["actions"] = actions
    out["status"] = "mitigated" if any(a["status"] == "ok" for a in f["actions"]) else "open"
    return out


def findings_text(f: Mapping[str, Any]) -> str:
    return json.dumps({k: v for k, v in f.items() if k != "request"}, default=str)
