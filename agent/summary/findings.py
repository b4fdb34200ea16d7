"""Incident findings: symptom, root cause with evidence, actions with oversight and audit ids, state, next steps.

Built from governed steps (a runbook run, or the agent's turn) by plain functions; every number in a
Findings comes from a tool result. `for_planner()` gives the shape the summary model was trained on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from agent.charts.incident import symptom_of
from tools.contract import WRITE_TOOLS
from tools.results import Evidence, LogMatches, MetricSeries, ResultData, RootCauseRanking, ScalingRecommendation, typed

_METRIC_WORDS = {"latency_p99": "p99 latency", "latency_p50": "p50 latency", "error_rate": "error rate",
                 "queue_depth": "queue depth", "cpu": "CPU", "memory": "memory", "throughput": "throughput",
                 "replicas": "ready replicas"}


@dataclass
class Measurement:
    service: str
    metric: str
    unit: str
    value: float
    window: str
    start: float | None = None
    max: float | None = None

    def text(self) -> str:
        extra = f" (window start {num(self.start)}, max {num(self.max)})" if self.start is not None else ""
        return f"{self.service} {_METRIC_WORDS.get(self.metric, self.metric)} {num(self.value)} {self.unit}{extra}"


@dataclass
class Cause:
    service: str
    score: float | None = None
    evidence: list[str] = field(default_factory=list)
    path: list[str] = field(default_factory=list)


@dataclass
class ActionTaken:
    tool: str
    args: dict[str, Any]
    status: str
    risk: str | None = None
    oversight: str | None = None
    approval_id: str | None = None
    approved_by: str | None = None
    audit_ids: list[Any] = field(default_factory=list)
    action_id: str | None = None
    detail: str = ""

    @property
    def service(self) -> str | None:
        s = self.args.get("service")
        return s if isinstance(s, str) else None


@dataclass
class Findings:
    title: str
    service: str | None = None
    symptom: Measurement | None = None
    root_cause: Cause | None = None
    other_causes: list[Cause] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    actions: list[ActionTaken] = field(default_factory=list)
    state: Measurement | None = None
    status: str = "open"  # open | mitigated | waiting_approval | failed
    next_steps: list[str] = field(default_factory=list)
    source: dict[str, Any] = field(default_factory=dict)  # runbook, run_id, conversation_id
    series: dict[str, Any] | None = None  # the symptom chart's numbers (agent.charts.incident.SymptomSeries)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        """All of the findings as one string (what a narrative is checked against)."""
        return json.dumps({k: v for k, v in self.to_dict().items() if k != "series"}, default=str)

    def for_planner(self) -> dict[str, Any]:
        """The findings shape the summary model was trained on (see runtime/summary.py)."""
        out: dict[str, Any] = {"request": self.title, "status": self.status, "evidence": list(self.evidence[:5])}
        if self.symptom:
            sym: dict[str, Any] = {"service": self.symptom.service, "metric": self.symptom.metric,
                                   "unit": self.symptom.unit, "now": self.symptom.value}
            if self.symptom.start is not None:
                sym["before"] = self.symptom.start
            if self.state is not None and self.state.metric == self.symptom.metric:
                sym["before"], sym["now"] = self.symptom.value, self.state.value
            out["symptom"] = sym
        if self.root_cause:
            out["root_cause"] = {"service": self.root_cause.service, "score": self.root_cause.score}
        out["actions"] = [{"tool": a.tool, "service": a.service, "status": a.status,
                           **({"replicas": a.args["replicas"]} if "replicas" in a.args else {})}
                          for a in self.actions if a.tool != "post_incident_summary"]
        return out


def num(v: Any) -> str:
    """A number as every rendering of the findings prints it."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return str(v)
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1 else f"{v:.1f}".rstrip("0").rstrip(".")
    return str(v)


@dataclass
class StepView:
    """One governed step, whatever produced it (a runbook run or an agent turn)."""

    tool: str
    args: dict[str, Any]
    status: str
    data: Any = None
    error: str | None = None
    risk: str | None = None
    oversight: str | None = None
    approval_id: str | None = None
    approved_by: str | None = None
    audit_ids: list[Any] = field(default_factory=list)
    action_id: str | None = None

    def view(self) -> ResultData | None:
        """The step's typed result (`tools.results`), if it has data."""
        return typed(self.tool, self.data)


def _measure(s: StepView) -> Measurement | None:
    m = s.view()
    if s.tool != "query_metrics" or s.status != "ok" or not isinstance(m, MetricSeries) or m.current is None:
        return None
    return Measurement(service=str(m.service), metric=str(m.metric), unit=m.unit or "", value=m.current,
                       window=m.window or "", start=m.start, max=m.max)


def _evidence(e: Evidence) -> str:
    """One piece of root-cause evidence as text (`latency_p99 752.9 vs baseline 256.9, z 19.31`)."""
    z = f", z {num(e.z)}" if e.z is not None else ""
    return f"{e.metric} {num(e.current)} vs baseline {num(e.baseline)}{z}"


def _causes(ranking: RootCauseRanking) -> list[Cause]:
    return [Cause(c.service, float(c.score) if c.score is not None else None,
                  [_evidence(e) for e in c.evidence or []][:5], list(c.path or []))
            for c in ranking.ranking]


def _action_detail(s: StepView) -> str:
    view = s.view()
    if s.status == "ok" and view is not None:
        return ", ".join(f"{k} {num(v)}" for k, v in view.scalars())
    if s.status == "pending_approval":
        return f"waiting for approval {s.approval_id}"
    return s.error or ""


def build_findings(title: str, service: str | None, steps: Sequence[StepView],
                   source: dict[str, Any] | None = None) -> Findings:
    """Group the steps into findings. The first measurement of `service` is the symptom, the last one of the
    same metric the current state; the last root-cause ranking gives the cause; write and notify steps are
    the actions."""
    f = Findings(title=title, service=service, source=dict(source or {}))
    measurements = [m for m in (_measure(s) for s in steps) if m is not None]
    own = [m for m in measurements if service is None or m.service == service]
    if own:
        f.symptom = own[0]
        later = [m for m in own[1:] if m.metric == own[0].metric]
        f.state = later[-1] if later else None
    for s in steps:
        view = typed(s.tool, s.data)
        if s.tool == "root_cause_analysis":
            if s.status == "ok":
                causes = _causes(view) if isinstance(view, RootCauseRanking) else []
                if causes:
                    f.root_cause, f.other_causes = causes[0], causes[1:3]
            else:
                f.evidence.append(f"root_cause_analysis {s.status}: {s.error}")
        elif isinstance(view, LogMatches):
            if view.latest is not None:
                where = view.service or "all services"
                q = f" matching '{view.query}'" if view.query else ""
                f.evidence.append(f"{view.count} log lines{q} in {where}; latest "
                                  f"({view.latest.service}): {view.latest.message}")
        elif isinstance(view, ScalingRecommendation) and s.status == "ok":
            f.evidence.append(f"scaling policy: {view.service} {view.current_replicas} -> "
                              f"{view.recommended_replicas} replicas")
        elif s.tool in WRITE_TOOLS or s.tool == "post_incident_summary":
            if s.tool == "post_incident_summary":
                continue
            f.actions.append(ActionTaken(tool=s.tool, args=dict(s.args), status=s.status, risk=s.risk,
                                         oversight=s.oversight, approval_id=s.approval_id, approved_by=s.approved_by,
                                         audit_ids=list(s.audit_ids), action_id=s.action_id, detail=_action_detail(s)))
    for m in measurements:
        if m is not f.symptom and m is not f.state and m.metric in ("cpu", "memory", "error_rate", "replicas"):
            f.evidence.append(m.text())
    f.status, f.next_steps = _status_and_next(f)
    series = symptom_of([{"tool": s.tool, "args": s.args, "result": {"status": s.status, "data": s.data}}
                         for s in steps])
    f.series = asdict(series) if series is not None else None
    return f


def _status_and_next(f: Findings) -> tuple[str, list[str]]:
    nxt: list[str] = []
    pending = [a for a in f.actions if a.status == "pending_approval"]
    failed = [a for a in f.actions if a.status in ("error", "denied")]
    done = [a for a in f.actions if a.status == "ok"]
    for a in pending:
        nxt.append(f"An approver decides approval {a.approval_id} ({a.tool} on {a.service}).")
    for a in failed:
        nxt.append(f"{a.tool} on {a.service} was {'refused' if a.status == 'denied' else 'not completed'}: "
                   f"{a.detail or a.status}; decide on another mitigation.")
    improved = None
    if f.symptom and f.state:
        improved = f.state.value < f.symptom.value
    if pending:
        status = "waiting_approval"
    elif done and improved:
        status = "mitigated"
        nxt.append(f"Watch {f.state.service} {_METRIC_WORDS.get(f.state.metric, f.state.metric)} "  # type: ignore[union-attr]
                   "for the next 30m before closing the incident.")
    elif failed:
        status = "failed"
    else:
        status = "open"
        if f.root_cause and not done:
            nxt.append(f"No action was taken; investigate {f.root_cause.service} further.")
        elif improved is False:
            nxt.append("The symptom did not improve; escalate to the service owner.")
    if not nxt:
        nxt.append("Keep the incident open until the symptom is back to normal.")
    return status, nxt


def findings_from_run(run: Any, description: str = "", rb: Any = None) -> Findings:
    """Findings of a runbook run record (agent.runbooks.store.RunRecord)."""
    steps = [StepView(tool=s.tool, args=s.args or {}, status=s.status, data=s.data, error=s.error, risk=s.risk,
                      oversight=s.oversight, approval_id=s.approval_id, approved_by=s.approved_by,
                      audit_ids=list(s.audit_ids), action_id=getattr(s, "action_id", None))
             for s in run.steps if s.kind == "tool" and s.tool and s.status not in ("skipped", "pending")]
    service = run.params.get("service")
    title = f"{run.runbook} on {service}" if service else run.runbook
    return build_findings(title, service, steps, {"runbook": run.runbook, "run_id": run.id})


def findings_from_agent_steps(request: str, steps: Sequence[Mapping[str, Any]],
                              conversation_id: str | None = None, service: str | None = None) -> Findings:
    """Findings of an agent turn (the graph state's step dicts: tool, args, result, oversight, ...)."""
    views = []
    for s in steps:
        res = s.get("result") or {}
        views.append(StepView(tool=s["tool"], args=dict(s.get("args") or {}), status=res.get("status", "error"),
                              data=res.get("data"), error=res.get("error"), risk=s.get("risk"),
                              oversight=s.get("oversight"), approval_id=s.get("approval_id"),
                              approved_by=s.get("approved_by"), action_id=s.get("approval_id")))
    if service is None:
        for v in views:
            m = v.view()
            if v.tool == "query_metrics" and v.status == "ok" and isinstance(m, MetricSeries):
                service = m.service
                break
    return build_findings(request, service, views, {"conversation_id": conversation_id})


def findings_from_dict(d: Mapping[str, Any]) -> Findings:
    """Rebuild Findings from `to_dict()` output (for findings passed through JSON)."""
    def m(x: Any) -> Measurement | None:
        return Measurement(**x) if isinstance(x, Mapping) else None

    def c(x: Any) -> Cause | None:
        return Cause(**x) if isinstance(x, Mapping) else None

    return Findings(
        title=d.get("title", "incident"), service=d.get("service"), symptom=m(d.get("symptom")),
        root_cause=c(d.get("root_cause")), other_causes=[Cause(**x) for x in d.get("other_causes") or []],
        evidence=list(d.get("evidence") or []), actions=[ActionTaken(**a) for a in d.get("actions") or []],
        state=m(d.get("state")), status=d.get("status", "open"), next_steps=list(d.get("next_steps") or []),
        source=dict(d.get("source") or {}), series=dict(d["series"]) if isinstance(d.get("series"), Mapping) else None,
    )
