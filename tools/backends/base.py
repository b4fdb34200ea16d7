"""What a backend provides to the tools: metric series, log search, topology, write actions.

Each part is a small protocol so metrics can come from Prometheus, logs from files or Loki and actions
from Kubernetes, while the embedded simulator provides all four.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class BackendError(RuntimeError):
    """A backend failed (down, slow, bad answer). The message names the backend."""


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


@dataclass
class ToolContext:
    """Everything a tool may touch. `sim` is set when the embedded simulator is the backend."""

    metrics: MetricsSource
    logs: LogSource
    topology: TopologySource
    actions: ActionTarget
    sim: Any = None
    extras: dict[str, Any] = field(default_factory=dict)
