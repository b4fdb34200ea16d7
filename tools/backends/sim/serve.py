"""`keel sim serve`: the simulator as a live process, for testing the real backends against it.

Every `speed_s` wall-clock seconds the simulator advances one minute; the minute's metrics are exported
as Prometheus gauges (`keel_sim_cpu_percent{service="..."}` ... , see `tools.backends.promql.SIM_GAUGES`)
and its log lines are appended as JSON lines `{"ts", "service", "level", "message"}` to
`<log_dir>/keel-sim.log`, rotated by size (`keel-sim.log.1`, `.2`, ...). Simulated minute m maps to the
wall-clock interval [t0 + m * speed_s, t0 + (m + 1) * speed_s), where t0 is when serving started.
This module does the I/O; the simulator core stays pure.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, start_http_server

from tools.backends.promql import SIM_GAUGES
from tools.backends.sim import logs as sim_logs
from tools.backends.sim.cluster import Simulator
from tools.backends.sim.model import M

LOG_FILE = "keel-sim.log"


def iso_ms(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class LiveSim:
    """A simulator tied to the wall clock, writing gauges to a registry and log lines to rotated files."""

    def __init__(
        self,
        sim: Simulator,
        speed_s: float,
        log_dir: Path,
        *,
        max_log_bytes: int = 1_000_000,
        log_backups: int = 5,
        registry: CollectorRegistry | None = None,
        t0: float | None = None,
    ) -> None:
        if speed_s <= 0:
            raise ValueError(f"speed must be > 0 seconds per simulated minute, got {speed_s}")
        self.sim = sim
        self.speed_s = speed_s
        self.t0 = time.time() if t0 is None else t0
        self.registry = registry or CollectorRegistry()
        self.gauges = {
            m: Gauge(name, f"simulated {m} per service", ["service"], registry=self.registry)
            for m, name in SIM_GAUGES.items()
        }
        self.minute_gauge = Gauge("keel_sim_minute", "simulated minutes elapsed", registry=self.registry)
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / LOG_FILE
        self._handler = RotatingFileHandler(self.log_path, maxBytes=max_log_bytes, backupCount=log_backups)
        self._handler.setFormatter(logging.Formatter("%(message)s"))
        self._log = logging.getLogger(f"keel.sim.serve.{id(self)}")
        self._log.propagate = False
        self._log.setLevel(logging.INFO)
        self._log.addHandler(self._handler)
        self.lines_written = 0
        self.port = 0  # set by serve() once listening

    def wall(self, sim_ts: float) -> float:
        """Wall-clock time of a simulated timestamp."""
        return self.t0 + (sim_ts - sim_logs.EPOCH) / 60.0 * self.speed_s

    def tick(self) -> None:
        """Simulate one minute, publish its metrics, append its log lines."""
        minute = self.sim.minute
        self.sim.step(1)
        row = self.sim.history[minute]
        for metric, gauge in self.gauges.items():
            for i, svc in enumerate(self.sim.services):
                gauge.labels(service=svc).set(float(row[i, M[metric]]))
        self.minute_gauge.set(self.sim.minute)
        lines = [ln for svc in self.sim.services for ln in sim_logs.lines_for(self.sim, svc, minute)]
        for ln in sorted(lines, key=lambda x: x.ts):
            rec = {"ts": iso_ms(self.wall(ln.ts)), "service": ln.service, "level": ln.level, "message": ln.message}
            self._log.info(json.dumps(rec))
        self.lines_written += len(lines)
        self._handler.flush()

    def run(self, stop: threading.Event, minutes: int | None = None) -> None:
        """Tick on schedule (minute m is published at t0 + (m + 1) * speed_s) until `stop` or `minutes`."""
        while not stop.is_set() and (minutes is None or self.sim.minute < minutes):
            due = self.t0 + (self.sim.minute + 1) * self.speed_s
            if stop.wait(max(0.0, due - time.time())):
                break
            self.tick()

    def close(self) -> None:
        self._log.removeHandler(self._handler)
        self._handler.close()


def serve(
    sim: Simulator,
    *,
    port: int,
    log_dir: Path,
    speed_s: float = 60.0,
    host: str = "127.0.0.1",
    minutes: int | None = None,
    max_log_bytes: int = 1_000_000,
    log_backups: int = 5,
    stop: threading.Event | None = None,
    on_ready: Any = None,
) -> LiveSim:
    """Export metrics on http://host:port/metrics and write logs until stopped; returns the LiveSim."""
    live = LiveSim(sim, speed_s, log_dir, max_log_bytes=max_log_bytes, log_backups=log_backups)
    server, thread = start_http_server(port, addr=host, registry=live.registry)
    live.port = int(server.server_port)
    stop = stop or threading.Event()
    if on_ready is not None:
        on_ready(live)
    try:
        live.run(stop, minutes)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=2)
        live.close()
    return live
