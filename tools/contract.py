"""The eleven tools of the contract: argument models (their JSON Schema feeds the planner's grammar) and specs.

Names and arguments are fixed (docs/ARCHITECTURE.md, "Formats"); evaluations outside this repository depend on them.
`service` is a string resolved against the current inventory (`tools.resolution`): a read accepts a
confident fuzzy match, a write only an exact, alias or normalised one; anything else is an error
(`unknown_service` / `ambiguous_service`) naming the three closest services. Durations
("1 hour") are normalised by the models' validators.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from tools.durations import normalise_duration
from tools.errors import InvalidInput
from tools.services import UnresolvedService, resolve_service, service_names

Service = str  # a name in the current topology (checked by the validator below)
Metric = Literal["cpu", "memory", "latency_p50", "latency_p99", "error_rate", "throughput", "replicas", "queue_depth"]
Level = Literal["error", "warn", "info"]
Runbook = Literal["high-latency", "error-spike", "memory-leak", "traffic-surge", "bad-deploy"]

METRICS: tuple[str, ...] = Metric.__args__  # type: ignore[attr-defined]
LEVELS: tuple[str, ...] = Level.__args__  # type: ignore[attr-defined]
RUNBOOKS: tuple[str, ...] = Runbook.__args__  # type: ignore[attr-defined]


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("service", mode="before", check_fields=False)
    @classmethod
    def _service(cls, v: Any, info: ValidationInfo) -> Any:
        if isinstance(v, str):
            return resolve_service(v, for_write=bool((info.context or {}).get("for_write")))
        return v

    @field_validator("window", mode="before", check_fields=False)
    @classmethod
    def _window(cls, v: Any) -> Any:
        if isinstance(v, str | int | float) and not isinstance(v, bool):
            return normalise_duration(v)
        return v


class QueryMetricsArgs(_Args):
    """Time series of one metric of one service over a window."""

    service: Service
    metric: Metric
    window: str = "15m"


class SearchLogsArgs(_Args):
    """Log lines matching a substring, optionally for one service and level, newest first."""

    query: str = ""
    service: Service | None = None
    level: Level | None = None
    window: str = "15m"
    limit: int = Field(20, ge=1, le=1000)

    @field_validator("level", mode="before")
    @classmethod
    def _level(cls, v: Any) -> Any:
        if isinstance(v, str) and v.lower() in ("warning", "warn"):
            return "warn"
        if isinstance(v, str) and v.lower() in ("err", "errors"):
            return "error"
        return v.lower() if isinstance(v, str) else v


class GetTopologyArgs(_Args):
    """The service call graph, or one service's callers and callees."""

    service: Service | None = None


class RootCauseArgs(_Args):
    """Rank the likely root-cause services of an anomaly seen on `service` (default: the most symptomatic)."""

    service: Service | None = None
    metric: Metric = "latency_p99"
    window: str = "30m"


class RecommendScalingArgs(_Args):
    """The scaling policy's recommended replica count for a service (never acts)."""

    service: Service


class ScaleServiceArgs(_Args):
    """Set a service's replica count."""

    service: Service
    replicas: int = Field(..., ge=0, le=1000, strict=True)


class RestartServiceArgs(_Args):
    """Restart all replicas of a service."""

    service: Service


class RollbackDeploymentArgs(_Args):
    """Roll a service back to its previous deployment."""

    service: Service


class RunRunbookArgs(_Args):
    """Execute a named runbook against a service; each step is governed."""

    name: Runbook
    service: Service


class PostIncidentSummaryArgs(_Args):
    """Post the current incident's summary to a Slack channel."""

    channel: str = Field("#incidents", min_length=1, max_length=80)


class CheckHealthArgs(_Args):
    """The services whose latency, errors or saturation are out of line now (one service, or all), worst first."""

    service: Service | None = None
    window: str = "15m"


Kind = Literal["read", "write", "notify"]


@dataclass(frozen=True)
class ToolSpec:
    name: str
    kind: Kind
    args: type[BaseModel]
    description: str

    def json_schema(self) -> dict[str, Any]:
        """The arguments' JSON Schema; `service` lists the current topology's names as its enum."""
        schema = copy.deepcopy(self.args.model_json_schema())
        prop = schema.get("properties", {}).get("service")
        if prop is not None:
            names = list(service_names())
            for option in prop.get("anyOf") or [prop]:
                if option.get("type") == "string":
                    option["enum"] = names
        return schema


TOOLS: dict[str, ToolSpec] = {
    s.name: s
    for s in (
        ToolSpec("query_metrics", "read", QueryMetricsArgs, "Query one metric of one service over a time window."),
        ToolSpec("search_logs", "read", SearchLogsArgs, "Search recent log lines by text, service and level."),
        ToolSpec("get_topology", "read", GetTopologyArgs, "Show the service call graph or one service's neighbours."),
        ToolSpec("root_cause_analysis", "read", RootCauseArgs, "Rank likely root-cause services with evidence paths."),
        ToolSpec("recommend_scaling", "read", RecommendScalingArgs,
                 "Recommend a replica count from the scaling policy."),
        ToolSpec("scale_service", "write", ScaleServiceArgs, "Set the number of replicas of a service."),
        ToolSpec("restart_service", "write", RestartServiceArgs, "Restart a service's replicas."),
        ToolSpec("rollback_deployment", "write", RollbackDeploymentArgs, "Roll back a service's last deployment."),
        ToolSpec("run_runbook", "write", RunRunbookArgs, "Run a named runbook; every step is governed."),
        ToolSpec("post_incident_summary", "notify", PostIncidentSummaryArgs, "Post the incident summary to Slack."),
        ToolSpec("check_health", "read", CheckHealthArgs,
                 "List the services whose latency, errors or saturation are out of line now, worst first."),
    )
}
WRITE_TOOLS = frozenset(n for n, s in TOOLS.items() if s.kind == "write")


class ContractError(InvalidInput):
    """A tool name or argument set that does not satisfy the contract; the message names field and allowed values.
    `code` is `unknown_service` / `ambiguous_service` when a service name did not resolve, else `invalid_args`."""

    def __init__(self, message: str,
                 code: Literal["invalid_args", "unknown_service", "ambiguous_service"] = "invalid_args") -> None:
        super().__init__(message)
        self.code: Literal["invalid_args", "unknown_service", "ambiguous_service"] = code


def _describe(err: dict[str, Any]) -> str:
    field = ".".join(str(p) for p in err.get("loc", ())) or "args"
    ctx = err.get("ctx") or {}
    msg = str(err.get("msg", "invalid"))
    if err.get("type") == "literal_error" and "expected" in ctx:
        return f"{field}: got {err.get('input')!r}; allowed: {ctx['expected']}"
    if err.get("type") == "extra_forbidden":
        return f"{field}: unknown argument"
    if err.get("type") == "missing":
        return f"{field}: required"
    return f"{field}: {msg.removeprefix('Value error, ')} (got {err.get('input')!r})"


def validate_call(tool: str, args: Any) -> BaseModel:
    """Validate a tool name and its arguments; raise ContractError with a precise message."""
    spec = TOOLS.get(tool)
    if spec is None:
        raise ContractError(f"unknown tool {tool!r}; allowed: {', '.join(TOOLS)}")
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise ContractError(f"args for {tool} must be a JSON object, got {type(args).__name__}")
    try:
        return spec.args.model_validate(args, context={"for_write": spec.kind == "write"})
    except ValidationError as e:
        errors = [dict(d) for d in e.errors()]
        code: Literal["invalid_args", "unknown_service", "ambiguous_service"] = "invalid_args"
        for d in e.errors():
            cause = (d.get("ctx") or {}).get("error")
            if d["loc"][:1] == ("service",) and isinstance(cause, UnresolvedService):
                code = cause.code
        raise ContractError(f"{tool}: " + "; ".join(_describe(d) for d in errors), code) from None


def canonical_args(model: BaseModel) -> dict[str, Any]:
    """Arguments as a plain dict with defaults filled and None dropped (what the audit log and evals compare)."""
    return {k: v for k, v in model.model_dump(mode="json").items() if v is not None}


def catalogue() -> list[dict[str, Any]]:
    """Every tool with its kind, description and argument JSON Schema."""
    return [
        {"name": s.name, "kind": s.kind, "description": s.description, "parameters": s.json_schema()}
        for s in TOOLS.values()
    ]
