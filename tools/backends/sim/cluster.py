"""The Simulator: cluster state, one-minute steps, write actions, history, events and clone()."""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass

import numpy as np

from tools.backends.sim.faults import CLEARED_BY, Fault
from tools.backends.sim.load import LoadCurve
from tools.backends.sim.model import METRIC_NAMES, Effects, M, step_metrics
from tools.services import current_topology
from tools.topology import Topology

_NOISY = [M["cpu"], M["latency_p50"], M["latency_p99"], M["throughput"]]


@dataclass(frozen=True)
class Event:
    """Something that happened to a service: deploy, scale, restart, rollback, oom_kill."""

    minute: int
    service: str
    kind: str
    detail: str


class Simulator:
    """A seeded, deterministic model of the cluster, advanced one minute at a time.

    `topology` fixes the services, their order in every array and the call graph (default: the current
    topology, `tools.services.current_topology`: Online Boutique unless one was chosen).
    History row `m` holds the observed metrics of minute `m`; `minute` is the number of minutes simulated.
    """

    def __init__(
        self,
        load: LoadCurve | None = None,
        faults: list[Fault] | None = None,
        seed: int = 0,
        replicas: dict[str, int] | None = None,
        topology: Topology | None = None,
    ) -> None:
        self.topology = topo = topology or current_topology()
        self.idx = topo.idx
        self.services = topo.names
        n = len(topo)
        for f in faults or []:
            if f.service not in topo:
                raise ValueError(f"fault {f.type}: unknown service {f.service!r} in topology {topo.name}; "
                                 f"allowed: {', '.join(topo.names)}")
        for name in replicas or {}:
            if name not in topo:
                raise ValueError(f"replicas: unknown service {name!r} in topology {topo.name}; "
                                 f"allowed: {', '.join(topo.names)}")
        self.seed = seed
        self.load = load or LoadCurve.diurnal(seed=seed)
        self.faults = [dataclasses.replace(f) for f in (faults or [])]
        self.rng = np.random.default_rng(seed)
        self.minute = 0
        self.replicas = topo.arrays.replicas.copy()
        for name, count in (replicas or {}).items():
            self.replicas[self.idx[name]] = count
        self.queue = np.zeros(n)
        self.leaked = np.zeros(n)
        self.restart_dip = np.zeros(n)
        self.revision = np.full(n, 12)
        self.events: list[Event] = []
        self._scheduled_deploys: list[tuple[int, str]] = []
        self.planted_logs: list[tuple[int, str, str, str]] = []  # (minute, service, level, message)
        self._hist = np.zeros((1440, n, len(METRIC_NAMES)))
        self._load = np.zeros(1440)

    # ------------------------------------------------------------------ stepping
    def _effects(self, t: int) -> Effects:
        fx = Effects.none(len(self.topology))
        mem_limit = self.topology.arrays.mem_limit
        for f in self.faults:
            i = self.idx[f.service]
            if f.type == "error_burst" and t == f.start:
                self._deploy(f.service, t, "rollout of a new image")
            if not f.active(t):
                continue
            k = f.intensity
            if f.type == "cpu_hog":
                fx.capacity_factor[i] *= 1.0 - 0.65 * k
                fx.cpu_extra[i] += 55.0 * k
            elif f.type == "memory_leak":
                self.leaked[i] += 0.08 * k * mem_limit[i]
            elif f.type == "latency_injection":
                fx.delay_ms[i] += 400.0 * k
            elif f.type == "error_burst":
                fx.error_extra[i] = 1 - (1 - fx.error_extra[i]) * (1 - 0.6 * k)
            elif f.type == "crash":
                fx.down[i] = True
            elif f.type == "traffic_spike":
                fx.load_factor[i] *= 1.0 + 2.5 * k
        for at, svc in self._scheduled_deploys:
            if at == t:
                self._deploy(svc, t, "routine rollout")
        dip = self.restart_dip > 0
        fx.capacity_factor[dip] *= 0.5
        fx.error_extra[dip] = 1 - (1 - fx.error_extra[dip]) * (1 - 0.05)
        self.restart_dip = np.maximum(self.restart_dip - 1, 0)
        return fx

    def _memory(self, t: int, fx: Effects) -> np.ndarray:
        a = self.topology.arrays
        mem = a.base_mem * (1.0 + 0.1 * np.sin(t / 97.0 + np.arange(len(self.topology)))) + self.leaked
        oom = mem >= a.mem_limit
        for i in np.flatnonzero(oom):
            self.events.append(Event(t, self.services[i], "oom_kill",
                                     f"container exceeded {a.mem_limit[i]:.0f}MB limit"))
            self.leaked[i] = 0.0
            fx.error_extra[i] = 1 - (1 - fx.error_extra[i]) * (1 - 0.3)
            fx.capacity_factor[i] *= 0.5
            mem[i] = a.base_mem[i]
        return mem

    def step(self, minutes: int = 1) -> None:
        for _ in range(minutes):
            t = self.minute
            fx = self._effects(t)
            mem = self._memory(t, fx)
            entry = self.load.at(t)
            metrics, self.queue = step_metrics(self.topology, entry, self.replicas, self.queue, mem, fx)
            noise = self.rng.standard_normal((len(self.topology), len(_NOISY)))
            metrics[:, _NOISY] *= 1.0 + 0.02 * noise
            metrics[:, M["error_rate"]] = np.clip(metrics[:, M["error_rate"]], 0.0, 1.0)
            if t >= len(self._hist):
                self._hist = np.concatenate([self._hist, np.zeros_like(self._hist)])
                self._load = np.concatenate([self._load, np.zeros_like(self._load)])
            self._hist[t] = metrics
            self._load[t] = entry
            self.minute = t + 1

    def run_until(self, minute: int) -> None:
        if minute > self.minute:
            self.step(minute - self.minute)

    # ------------------------------------------------------------------ actions
    def _deploy(self, service: str, t: int, why: str) -> None:
        i = self.idx[service]
        self.revision[i] += 1
        detail = f"revision {self.revision[i] - 1} -> {self.revision[i]} ({why})"
        self.events.append(Event(t, service, "deploy", detail))

    def schedule_deploy(self, service: str, minute: int) -> None:
        """A harmless deploy at `minute` (scenario red herrings)."""
        self._scheduled_deploys.append((minute, service))

    def plant_log(self, service: str, minute: int, level: str, message: str) -> None:
        """A verbatim log line `service` writes during `minute` (scenario `inject_logs`)."""
        self.planted_logs.append((minute, service, level, message))

    def scale(self, service: str, replicas: int) -> dict[str, object]:
        i = self.idx[service]
        before = int(self.replicas[i])
        self.replicas[i] = replicas
        self.events.append(Event(self.minute, service, "scale", f"replicas {before} -> {replicas}"))
        return {"service": service, "previous_replicas": before, "replicas": replicas}

    def _clear(self, service: str, action: str) -> None:
        for f in self.faults:
            if f.service == service and CLEARED_BY.get(f.type) == action and f.active(self.minute):
                f.cleared_at = self.minute

    def restart(self, service: str) -> dict[str, object]:
        i = self.idx[service]
        self._clear(service, "restart")
        self.leaked[i] = 0.0
        self.queue[i] = 0.0
        self.restart_dip[i] = 1
        n = int(self.replicas[i])
        self.events.append(Event(self.minute, service, "restart", f"rolling restart of {n} replicas"))
        return {"service": service, "restarted_replicas": n}

    def rollback(self, service: str) -> dict[str, object]:
        i = self.idx[service]
        before = int(self.revision[i])
        self._clear(service, "rollback")
        self.revision[i] = max(1, before - 1)
        self.events.append(Event(self.minute, service, "rollback", f"revision {before} -> {self.revision[i]}"))
        return {"service": service, "previous_revision": before, "revision": int(self.revision[i])}

    # ------------------------------------------------------------------ reading
    @property
    def history(self) -> np.ndarray:
        """Observed metrics, shape [minute, service, metric] (a view: do not modify)."""
        return self._hist[: self.minute]

    @property
    def load_history(self) -> np.ndarray:
        return self._load[: self.minute]

    def series(self, service: str, metric: str, window: int) -> np.ndarray:
        """The last `window` minutes of one metric (fewer if less has been simulated)."""
        lo = max(0, self.minute - window)
        return self._hist[lo : self.minute, self.idx[service], M[metric]].copy()

    def active_faults(self, minute: int | None = None) -> list[Fault]:
        """Faults active at `minute` (default: the next minute to simulate)."""
        m = self.minute if minute is None else minute
        return [f for f in self.faults if f.active(m)]

    def events_between(self, start: int, end: int) -> list[Event]:
        return [e for e in self.events if start <= e.minute < end]

    def clone(self) -> Simulator:
        """An independent copy: stepping or acting on it never touches the parent."""
        c = copy.copy(self)
        c.faults = [dataclasses.replace(f) for f in self.faults]
        c.rng = copy.deepcopy(self.rng)
        c.replicas = self.replicas.copy()
        c.queue = self.queue.copy()
        c.leaked = self.leaked.copy()
        c.restart_dip = self.restart_dip.copy()
        c.revision = self.revision.copy()
        c.events = list(self.events)
        c._scheduled_deploys = list(self._scheduled_deploys)
        c.planted_logs = list(self.planted_logs)
        c._hist = self._hist.copy()
        c._load = self._load.copy()
        return c
