"""Typed results of the tools, one model per result shape, each rendering itself for every reader.

A tool builds its model and returns `ToolResult.ok(model)`; the envelope carries the model's JSON form
(`to_data()`: the fields the tool set, in the order it set them), so checkpoints, the audit log and HTTP see
plain JSON. Readers get the model back with `typed(tool, data)` and call it instead of parsing dicts:
- `line()`: the one-line summary people see in a terminal or a chat stream;
- `observation()`: the body of the planner's `Seen:` line (the shipped planner adapter was trained on this
  format: it must not change);
- `facts()`: the names and numbers an answer may quote about the result;
- `scalars()`: the top-level strings and numbers, for results without a richer rendering (write actions).

Fields are optional where a reader tolerated their absence before, so results recorded by older code or
other backends (Kubernetes adds `deployment`, `namespace`) still parse; unknown keys are kept.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

Number = int | float
Scalar = str | int | float

_UNIT = {"ms": "ms", "percent": "%", "MB": "MB", "rps": "rps", "ratio": "", "count": "", "requests": ""}
MAX_LINE_CHARS = 200


def compact_number(x: Any) -> str:
    """A number as the planner's observations print it (`730`, `0.0123`, `12.5`)."""
    if isinstance(x, float):
        return f"{x:.4g}" if abs(x) < 1 else f"{x:.0f}" if abs(x) >= 100 else f"{x:.1f}".rstrip("0").rstrip(".")
    return str(x)


class ResultData(BaseModel):
    """The base of every result model: JSON in, JSON out, renderings with generic defaults."""

    model_config = ConfigDict(extra="allow", frozen=True)

    def to_data(self) -> dict[str, Any]:
        """The JSON object the envelope carries (only the fields that were set, in the tool's order; a value
        JSON cannot hold, such as a numpy integer a backend passed through, as its text)."""
        return self.model_dump(mode="json", exclude_unset=True, fallback=str)

    def scalars(self) -> list[tuple[str, Scalar]]:
        """The top-level strings and numbers, in order (booleans count as numbers, as they always did)."""
        return [(k, v) for k, v in self.to_data().items() if isinstance(v, str | int | float)]

    def line(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in self.scalars())[:MAX_LINE_CHARS]

    def observation(self) -> str:
        return "ok"

    def facts(self) -> dict[str, Any]:
        return dict(self.scalars())


# ---------------------------------------------------------------------------------------------- read tools


class MetricSeries(ResultData):
    """query_metrics: one metric of one service over a window, summarised, with (thinned) points."""

    service: str | None = None
    metric: str | None = None
    unit: str | None = None
    window: str | None = None
    current: Number | None = None
    mean: Number | None = None
    min: Number | None = None
    max: Number | None = None
    start: Number | None = None
    points: list[tuple[str, Number]] | None = None

    def line(self) -> str:
        if self.current is None:
            return super().line()
        return f"{self.current} {self.unit} now (start {self.start}, max {self.max})"

    def observation(self) -> str:
        if self.current is None:
            return "ok"
        u = _UNIT.get(str(self.unit or ""), "")
        return f"{compact_number(self.start)}->{compact_number(self.current)}{u} (max {compact_number(self.max)}{u})"

    def facts(self) -> dict[str, Any]:
        return {"service": self.service, "metric": self.metric, "unit": self.unit, "window": self.window,
                "start": self.start, "current": self.current, "max": self.max}


class LogLine(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    ts: str = ""
    service: str = ""
    level: str = ""
    message: str = ""


class LogMatches(ResultData):
    """search_logs: the newest matching lines (up to the limit) and how many matched in all."""

    query: str | None = None
    service: str | None = None
    level: str | None = None
    window: str | None = None
    total_matches: int | None = None
    lines: list[LogLine] = []

    @property
    def latest(self) -> LogLine | None:
        return self.lines[0] if self.lines else None

    @property
    def count(self) -> int:
        """How many lines matched (the lines shown when an older result did not say)."""
        return self.total_matches if self.total_matches is not None else len(self.lines)

    def line(self) -> str:
        top = f'; latest "{self.lines[0].message}"' if self.lines else ""
        return f"{self.count} matching lines{top}"

    def observation(self) -> str:
        top = f'; top: "{self.lines[0].message[:70]}"' if self.lines else ""
        return f"{self.count} lines{top}"

    def facts(self) -> dict[str, Any]:
        latest = self.latest
        return {"service": self.service, "level": self.level, "query": self.query,
                "total_matches": self.count, "latest": latest.message if latest else None,
                "latest_service": latest.service if latest else None}


class Edge(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    caller: str
    callee: str


class CallGraph(ResultData):
    """get_topology without a service: every service and call edge."""

    services: list[str]
    edges: list[Edge] = []

    def line(self) -> str:
        return f"{len(self.services)} services"

    def observation(self) -> str:
        return f"{len(self.services)} services, {len(self.edges)} edges"

    def facts(self) -> dict[str, Any]:
        return self.to_data()


class Neighbours(ResultData):
    """get_topology for one service: who calls it and whom it calls."""

    service: str | None = None
    callers: list[str] = []
    callees: list[str] = []

    def line(self) -> str:
        return f"calls {', '.join(self.callees) or 'nothing'}"

    def observation(self) -> str:
        return f"callers {','.join(self.callers) or '-'}; callees {','.join(self.callees) or '-'}"

    def facts(self) -> dict[str, Any]:
        return self.to_data()


class Evidence(BaseModel):
    """One metric's move on a candidate: its baseline, its value now, the signed robust z-score."""

    model_config = ConfigDict(extra="allow", frozen=True)

    metric: str
    baseline: Number
    current: Number
    z: Number | None = None


class ProblemSignature(BaseModel):
    """The kind of problem a service's own metrics show and the write that usually mitigates it."""

    model_config = ConfigDict(extra="allow", frozen=True)

    kind: str | None = None
    action: str | None = None
    because: str | None = None


class Candidate(BaseModel):
    """One ranked root-cause candidate."""

    model_config = ConfigDict(extra="allow", frozen=True)

    service: str
    score: Number | None = None
    path: list[str] | None = None
    evidence: list[Evidence] | None = None
    signature: ProblemSignature | None = None

    def to_data(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=True, fallback=str)


class RootCauseRanking(ResultData):
    """root_cause_analysis: the symptom, the onset, the ranked candidates (best first)."""

    symptom: str | None = None
    metric: str | None = None
    window: str | None = None
    onset: str | None = None
    ranking: list[Candidate] = []
    confidence: Number | None = None  # calibrated: how often the top candidate is right at this score
    inconclusive: bool | None = None  # confidence below the threshold: no single cause is asserted
    verdict: str | None = None  # the likely cause, or "inconclusive ..." naming the top three with evidence
    widened_from: str | None = None

    def line(self) -> str:
        return "ranking: " + ", ".join(c.service for c in self.ranking[:3]) if self.ranking else "no ranking"

    def observation(self) -> str:
        """`paymentservice crash -> restart_service; then checkoutservice, frontend` (the top candidate's
        signature when it has one; scores are left out: their scale means nothing to a reader)."""
        if not self.ranking:
            return "no ranking"
        top = self.ranking[0]
        head = top.service
        sig = top.signature
        if sig is not None and (sig.model_fields_set or sig.model_extra):
            head += f" {sig.kind} -> {sig.action}"
        rest = ", ".join(c.service for c in self.ranking[1:3])
        return head + (f"; then {rest}" if rest else "")

    def facts(self) -> dict[str, Any]:
        return {"symptom": self.symptom, "ranking": [c.to_data() for c in self.ranking]}


class ScalingRecommendation(ResultData):
    """recommend_scaling: the policy's replica count for a service and its expected effect (never acts)."""

    service: str | None = None
    current_replicas: int | None = None
    recommended_replicas: int | None = None
    action: str | None = None
    probabilities: dict[str, float] | None = None
    slo_p99_ms: Number | None = None
    bounds: dict[str, int] | None = None
    expected: dict[str, Any] | None = None  # figures named by how they were obtained (look-ahead or estimate)
    if_unchanged: dict[str, Any] | None = None
    policy: str | None = None
    note: str | None = None
    forecast: dict[str, Any] | None = None  # next hour: p50/p90 replicas, peak time; or why there is none
    safety_floor: dict[str, Any] | None = None  # the decision-time floor from the short-term forecast
    hpa_replicas: int | None = None  # a residual policy's reference: the tuned HPA's own decision

    def observation(self) -> str:
        text = f"{self.current_replicas}->{self.recommended_replicas} replicas"
        fc = self.forecast or {}
        if fc.get("status") == "ok":
            when = f" at {fc['peak_at']}" if fc.get("peak_at") else ""
            start = f" from {fc['more_replicas_from']}" if fc.get("more_replicas_from") else ""
            text += (f"; next hour: ~{fc.get('load_vs_now')}x load{when}, {fc.get('p50_replicas')} replicas"
                     f"{start} (p90 {fc.get('p90_replicas')})")
        elif fc.get("status") == "insufficient_history":
            text += "; next hour: too little history to forecast"
        return text

    def facts(self) -> dict[str, Any]:
        return self.to_data()


class HealthFinding(BaseModel):
    """One metric of a service out of line: its value now, its window minimum, the line it crossed and how many
    times over that line it is."""

    model_config = ConfigDict(extra="allow", frozen=True)

    metric: str
    current: Number
    baseline: Number | None = None
    line: Number | None = None
    unit: str | None = None
    severity: Number = 1.0

    def text(self) -> str:
        """`latency_p99 2400ms (line 500ms)`."""
        u = _UNIT.get(str(self.unit or ""), "")
        return f"{self.metric} {compact_number(self.current)}{u} (line {compact_number(self.line)}{u})"


class ServiceHealth(BaseModel):
    """A service with at least one metric out of line; `severity` is its worst finding's."""

    model_config = ConfigDict(extra="allow", frozen=True)

    service: str
    severity: Number = 1.0
    findings: list[HealthFinding] = []


class HealthReport(ResultData):
    """check_health: the services out of line now (worst first), how many were checked, which had no metrics."""

    window: str | None = None
    service: str | None = None  # the one service asked about; absent: every service
    checked: int | None = None
    unhealthy: list[ServiceHealth] = []
    no_data: list[str] = []

    def line(self) -> str:
        if not self.unhealthy:
            return f"all {self.checked} services checked are within their lines"
        worst = "; ".join(f"{s.service} {', '.join(f.text() for f in s.findings[:2])}" for s in self.unhealthy[:3])
        return f"{len(self.unhealthy)} of {self.checked} out of line: {worst}"[:MAX_LINE_CHARS]

    def observation(self) -> str:
        """`paymentservice latency_p99 2400ms, error_rate 0.08; checkoutservice latency_p99 900ms` (the worst three,
        each with its worst two metrics), or `all 11 healthy`."""
        if not self.unhealthy:
            return f"all {self.checked} healthy"
        parts = []
        for s in self.unhealthy[:3]:
            metrics = ", ".join(f"{f.metric} {compact_number(f.current)}{_UNIT.get(str(f.unit or ''), '')}"
                                for f in s.findings[:2])
            parts.append(f"{s.service} {metrics}")
        more = len(self.unhealthy) - 3
        return "; ".join(parts) + (f"; +{more} more" if more > 0 else "")

    def facts(self) -> dict[str, Any]:
        return {"window": self.window, "service": self.service, "checked": self.checked,
                "unhealthy": [s.model_dump(mode="json") for s in self.unhealthy], "no_data": list(self.no_data)}


# ---------------------------------------------------------------------------------------------- writes


class ScaleOutcome(ResultData):
    """scale_service: the replica count before and after (Kubernetes also names the Deployment)."""

    service: str | None = None
    deployment: str | None = None
    namespace: str | None = None
    previous_replicas: int | None = None
    replicas: int | None = None

    def observation(self) -> str:
        before = self.previous_replicas if "previous_replicas" in self.model_fields_set else "?"
        after = self.replicas if "replicas" in self.model_fields_set else "?"
        return f"replicas {before}->{after}"


class RestartOutcome(ResultData):
    """restart_service: how many replicas were restarted."""

    service: str | None = None
    deployment: str | None = None
    namespace: str | None = None
    restarted_at: str | None = None
    restarted_replicas: int | None = None


class RollbackOutcome(ResultData):
    """rollback_deployment: the revision before and after."""

    service: str | None = None
    deployment: str | None = None
    namespace: str | None = None
    previous_revision: int | None = None
    revision: int | None = None
    replicaset: str | None = None


class RunbookStep(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    id: str
    tool: str | None = None
    status: str
    args: dict[str, Any] | None = None
    oversight: str | None = None
    error: str | None = None
    approval_id: str | None = None
    audit_ids: list[Any] = []


class RunbookRun(ResultData):
    """run_runbook: the run's id, status and steps."""

    run_id: str | None = None
    runbook: str | None = None
    status: str | None = None
    reason: str | None = None
    params: dict[str, Any] | None = None
    steps: list[RunbookStep] = []


class SummaryPost(ResultData):
    """post_incident_summary: what was posted where, and how the delivery went."""

    channel: str | None = None
    title: str | None = None
    status: str | None = None
    narrative: str | None = None
    narrative_source: str | None = None
    blocks: int | None = None
    delivery: dict[str, Any] | None = None
    posted: bool | None = None


# ---------------------------------------------------------------------------------------------- governance


class PendingApproval(ResultData):
    """A call parked until a person decides: the approval to decide and what it would run. A runbook run
    paused on a step names the run and the step's own call."""

    approval_id: str
    tool: str | None = None
    args: dict[str, Any] | None = None
    risk: str | None = None
    oversight: str | None = None
    reasons: list[str] = []
    expires_at: float | None = None
    run_id: str | None = None
    runbook: str | None = None
    run: dict[str, Any] | None = None


def _topology(data: dict[str, Any]) -> ResultData:
    return CallGraph.model_validate(data) if "services" in data else Neighbours.model_validate(data)


PARSERS: dict[str, Callable[[dict[str, Any]], ResultData]] = {
    "query_metrics": MetricSeries.model_validate,
    "search_logs": LogMatches.model_validate,
    "get_topology": _topology,
    "root_cause_analysis": RootCauseRanking.model_validate,
    "recommend_scaling": ScalingRecommendation.model_validate,
    "scale_service": ScaleOutcome.model_validate,
    "restart_service": RestartOutcome.model_validate,
    "rollback_deployment": RollbackOutcome.model_validate,
    "run_runbook": RunbookRun.model_validate,
    "post_incident_summary": SummaryPost.model_validate,
    "check_health": HealthReport.model_validate,
}


def typed(tool: str, data: Any) -> ResultData | None:
    """The typed view of a tool's result data (None without data). Data that is not the tool's shape (an
    unknown tool, a result recorded by other code) gets the generic view: its scalars, observation `ok`."""
    if not isinstance(data, dict):
        return None
    parse: Callable[[dict[str, Any]], ResultData] = PARSERS.get(tool, ResultData.model_validate)
    try:
        return parse(data)
    except ValidationError:
        return ResultData.model_validate(data)
