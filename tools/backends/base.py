"""What a backend provides to the tools: metric series, log search, topology, write actions.

Each part is a small protocol so metrics can come from Prometheus, logs from files or Loki and actions
from Kubernetes, while the embedded simulator provides all four.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from tools.envelope import ToolResult
    from tools.external import ExternalTools


class BackendError(RuntimeError):
    """A backend failed (down, slow, bad answer). The message names the backend; `code` says which kind:
    `timeout` (no answer within the budget), `not_implemented` (the backend cannot do this) or
    `backend_unavailable` (anything else)."""

    def __init__(self, message: str,
                 code: Literal["backend_unavailable", "timeout", "not_implemented"] = "backend_unavailable") -> None:
        super().__init__(message)
        self.code: Literal["backend_unavailable", "timeout", "not_implemented"] = code


@dataclass(frozen=True)
class Point:
    ts: float  # epoch seconds
    value: float


@dataclass(frozen=True)
class LogRecord:
    ts: float
    service: str
    level: str
    message: str


@dataclass(frozen=True)
class LogPage:
    lines: list[LogRecord]
    total: int


class MetricsSource(Protocol):
    name: str

    def series(self, service: str, metric: str, window_s: int) -> list[Point]: ...


class LogSource(Protocol):
    name: str

    def search(self, query: str, service: str | None, level: str | None, window_s: int, limit: int) -> LogPage: ...


class TopologySource(Protocol):
    name: str

    def edges(self) -> list[tuple[str, str]]: ...


class ActionTarget(Protocol):
    name: str

    def scale(self, service: str, replicas: int) -> dict[str, Any]: ...

    def restart(self, service: str) -> dict[str, Any]: ...

    def rollback(self, service: str) -> dict[str, Any]: ...


class Summarizer(Protocol):
    """A model that turns incident findings into 1-3 sentences."""

    def summarize(self, findings: dict[str, Any]) -> str: ...


class RunbookRunner(Protocol):
    """The runbook engine bound to the calling principal (what run_runbook runs)."""

    def run(self, name: str, service: str, ctx: ToolContext) -> ToolResult: ...


class ScalingAdvisor(Protocol):
    """The scaling policy: a recommend_scaling result for a service (what recommend_scaling runs)."""

    def recommend(self, service: str, ctx: ToolContext) -> ToolResult: ...


class SummaryPoster(Protocol):
    """Delivers the incident summary of the context's `incident` to a channel (what post_incident_summary runs)."""

    def __call__(self, channel: str, ctx: ToolContext) -> ToolResult: ...


@dataclass(frozen=True)
class ToolDeps:
    """What some tools need besides the backends, built once by the composition root; a caller that needs
    per-call values (the bound runbook engine, the turn's findings) passes a copy (`ToolContext.with_deps`),
    so concurrent calls never see each other's."""

    lock: AbstractContextManager[Any] | None = None  # guards the simulator; runbook steps hold it per call
    wait: Callable[[int], None] | None = None  # lets a runbook wait step pass (simulated) seconds
    runbooks: RunbookRunner | None = None  # run_runbook: the engine bound to the calling principal
    runbook_run: str | None = None  # the runbook run a step belongs to
    incident: Any = None  # post_incident_summary: the findings (agent.summary.findings.Findings or its dict)
    post_summary: SummaryPoster | None = None  # post_incident_summary: formats and delivers the summary
    summarizer: Summarizer | None = None  # the summary model; None: the deterministic template
    slack_webhook_url: str | None = None  # None: the slack_webhook_url setting
    delivery_options: Mapping[str, Any] = field(default_factory=dict)  # retry options of the webhook delivery
    scaling: ScalingAdvisor | None = None  # recommend_scaling: the scaling policy
    backends: Mapping[str, str] = field(default_factory=dict)  # role -> backend name, for display
    external: ExternalTools | None = None  # tools of the operator's MCP servers (`server.tool`), if any


@dataclass
class ToolContext:
    """Everything a tool may touch. `sim` is set when the embedded simulator is the backend."""

    metrics: MetricsSource
    logs: LogSource
    topology: TopologySource
    actions: ActionTarget
    sim: Any = None
    deps: ToolDeps = field(default_factory=ToolDeps)

    def with_deps(self, **changes: Any) -> ToolContext:
        """A shallow copy whose deps carry `changes` (the original is left as it is)."""
        return replace(self, deps=replace(self.deps, **changes))
