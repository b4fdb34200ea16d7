"""Adapter exposing an in-process Simulator as metrics, logs, topology and action backends."""

from __future__ import annotations

import os
import time
from typing import Any

from tools.backends.base import LogPage, LogRecord, Point, ToolContext
from tools.backends.sim import logs as sim_logs
from tools.backends.sim.cluster import Simulator

# Test hook: real seconds each simulated write action takes (crash tests kill the server mid-action).
# Unset in normal use; the default path only looks the variable up.
ACTION_DELAY_ENV = "KEEL_TEST_SIM_ACTION_DELAY_S"


def _action_delay() -> None:
    raw = os.environ.get(ACTION_DELAY_ENV)
    if raw:
        time.sleep(float(raw))


class SimBackend:
    """One object serving every backend role from a Simulator."""

    name = "sim"

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    def series(self, service: str, metric: str, window_s: int) -> list[Point]:
        window = max(1, window_s // 60)
        values = self.sim.series(service, metric, window)
        start = self.sim.minute - len(values)
        return [Point(sim_logs.EPOCH + (start + k) * 60.0, float(v)) for k, v in enumerate(values)]

    def search(self, query: str, service: str | None, level: str | None, window_s: int, limit: int) -> LogPage:
        lines, total = sim_logs.search(self.sim, query, service, level, max(1, window_s // 60), limit)
        return LogPage([LogRecord(x.ts, x.service, x.level, x.message) for x in lines], total)

    def edges(self) -> list[tuple[str, str]]:
        return self.sim.topology.edge_pairs()

    def scale(self, service: str, replicas: int) -> dict[str, Any]:
        _action_delay()
        return self.sim.scale(service, replicas)

    def restart(self, service: str) -> dict[str, Any]:
        _action_delay()
        return self.sim.restart(service)

    def rollback(self, service: str) -> dict[str, Any]:
        _action_delay()
        return self.sim.rollback(service)


def sim_context(sim: Simulator) -> ToolContext:
    b = SimBackend(sim)
    return ToolContext(metrics=b, logs=b, topology=b, actions=b, sim=sim)
