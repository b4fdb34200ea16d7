"""The tool context the agent works on, built in one place so another backend factory can replace it.

`build_context(settings, scenario)` returns a `LiveContext`: the backends the settings name
(`tools.backends.factory`), with the embedded simulator built from a scenario for every role left on "sim"
on the topology `settings.topology` names (else the scenario's; it becomes the process's current topology),
fast-forwarded to the scenario's `at`, advanced one simulated minute every `settings.sim_tick_s` real
seconds by a background thread. Every access to the simulator (from that thread and from request
threads) holds one lock.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agent.settings import Settings
from tools.backends.base import ToolContext
from tools.backends.factory import build_backends
from tools.backends.sim.cluster import Simulator
from tools.backends.sim.scenario import Scenario, load_scenario
from tools.backends.sim_backend import SimBackend
from tools.services import set_topology, use_topology
from tools.topology import DEFAULT_TOPOLOGY, Topology, load_topology

DEFAULT_SCENARIO = Path(__file__).resolve().parents[1] / "evals" / "scenarios" / "serve-checkout-incident.yaml"


class Locked:
    """A proxy that holds `lock` around every method call and attribute read of the wrapped object.

    Arrays read through it are copies, so a reader never sees a minute being written.
    """

    def __init__(self, target: Any, lock: threading.RLock) -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_lock", lock)

    def __getattr__(self, name: str) -> Any:
        with self._lock:
            value = getattr(self._target, name)
            if isinstance(value, np.ndarray):
                return value.copy()
        if callable(value):
            return self._locked(value)
        return value

    def _locked(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                out = fn(*args, **kwargs)
                return out.copy() if isinstance(out, np.ndarray) else out

        return call


class SimTicker:
    """Advances the simulator one minute every `tick_s` seconds in a daemon thread, under the context lock."""

    def __init__(self, sim: Simulator, lock: threading.RLock, tick_s: float) -> None:
        self.sim, self.lock, self.tick_s = sim, lock, tick_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="keel-sim-ticker", daemon=True)

    def start(self) -> SimTicker:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.tick_s):
            with self.lock:
                self.sim.step(1)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)


@dataclass
class LiveContext:
    """A tool context plus what keeps it alive: the lock that guards it and the simulator's ticker."""

    tools: ToolContext
    lock: threading.RLock
    scenario: Scenario | None = None
    ticker: SimTicker | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def minute(self) -> int | None:
        sim = self.tools.sim
        return None if sim is None else int(sim.minute)

    def close(self) -> None:
        if self.ticker is not None:
            self.ticker.stop()


def resolve_scenario(scenario: Scenario | str | Path | None,
                     topology: Topology | None = None) -> tuple[Scenario, Path | None]:
    """A Scenario object and the folder its relative paths are resolved against.

    Default: the shipped incident on Online Boutique, a quiet cluster on any other `topology`. A scenario file
    that names no topology is read on `topology`; one that names another topology is an error.
    """
    if isinstance(scenario, Scenario):
        sc, base = scenario, None
    elif scenario is None and topology is not None and topology.name != DEFAULT_TOPOLOGY:
        return Scenario(name=f"quiet {topology.name}", topology=topology), None
    else:
        path = Path(scenario) if scenario is not None else DEFAULT_SCENARIO
        if topology is not None:
            with use_topology(topology):
                sc = load_scenario(path)
        else:
            sc = load_scenario(path)
        base = path.parent
    if topology is not None and sc.topo != topology:
        raise ValueError(f"scenario {sc.name} runs on topology {sc.topo.name}, not {topology.name}: drop "
                         "--topology or choose a scenario on it")
    return sc, base


def topology_of(settings: Settings) -> Topology | None:
    """The topology `settings.topology` names (None when it names none); TopologyError names a bad one."""
    return load_topology(settings.topology) if settings.topology.strip() else None


def build_context(settings: Settings, scenario: Scenario | str | Path | None = None, *,
                  live: bool = True) -> LiveContext:
    """The embedded simulator for `scenario`, at the scenario's `at`, ticking in the background when `live`."""
    sc, base = resolve_scenario(scenario, topology_of(settings))
    set_topology(sc.topo)
    sim = sc.build(base)
    sim.run_until(sc.at or 60)
    lock = threading.RLock()
    backend = Locked(SimBackend(sim), lock)
    roles = (settings.metrics_backend, settings.logs_backend, settings.actions_backend)
    if all(r == "sim" for r in roles):
        tools = ToolContext(metrics=backend, logs=backend, topology=backend, actions=backend, sim=Locked(sim, lock))
        names: Any = "sim"
    else:
        # Real backends where the settings name them; the simulator (locked) fills the remaining roles.
        tools = build_backends(settings, sim)
        for role in ("metrics", "logs", "topology", "actions"):
            if isinstance(getattr(tools, role), SimBackend):
                setattr(tools, role, backend)
        if tools.sim is not None:
            tools.sim = Locked(sim, lock)
        names = tools.extras.get("backends", {})
    tools.extras["lock"] = lock
    ticker = SimTicker(sim, lock, settings.sim_tick_s).start() if live and "sim" in roles else None
    info = {"backend": names, "scenario": sc.name, "start_minute": sim.minute, "tick_s": settings.sim_tick_s,
            "topology": sc.topo.name}
    return LiveContext(tools=tools, lock=lock, scenario=sc, ticker=ticker, info=info)
