"""Compose the tool context from settings: each role (metrics, logs, actions) from the sim or a real backend.

`build_backends(settings, sim)` is what the agent's context builder calls. The simulator serves every
role left at "sim"; when one is needed and none is given, a quiet default cluster (diurnal load, no
faults, 60 minutes in) is built on the current topology (`tools.services.current_topology`). Call graph:
the simulator's when metrics come from it, else `topology_file` (a caller,callee CSV such as a `graph.csv`
with Source,Target columns), else the current topology's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tools.backends.base import BackendError, ToolContext, ToolDeps
from tools.backends.discovery import InventoryRefresher, read_edges, sources_from_settings
from tools.backends.sim.cluster import Simulator
from tools.backends.sim_backend import SimBackend
from tools.inventory import Inventory


class StaticTopology:
    """A fixed call graph (caller, callee) in contract service names."""

    def __init__(self, edges: list[tuple[str, str]], name: str = "config") -> None:
        self._edges = list(edges)
        self.name = name

    def edges(self) -> list[tuple[str, str]]:
        return list(self._edges)


def default_sim() -> Simulator:
    from tools.backends.sim.scenario import Scenario

    sim = Scenario(name="quiet").build()
    sim.run_until(60)
    return sim


def build_backends(settings: Any, sim: Simulator | Any | None = None) -> ToolContext:
    """The ToolContext the settings describe (metrics_backend, logs_backend, actions_backend, ...).

    `settings.topology` (when set and no simulator is given) becomes the process's current topology: the
    services the tools know and, without `topology_file`, the call graph.
    """
    if sim is None and str(getattr(settings, "topology", "") or ""):
        from tools.services import set_topology
        from tools.topology import load_topology

        set_topology(load_topology(settings.topology))
    roles = (settings.metrics_backend, settings.logs_backend, settings.actions_backend)
    if "sim" in roles and sim is None:
        sim = default_sim()
    simb = SimBackend(sim) if sim is not None else None
    timeout = float(settings.backend_timeout_s)
    smap = dict(settings.service_map or {})

    metrics: Any = simb
    if settings.metrics_backend == "prometheus":
        from tools.backends.prometheus import PrometheusMetrics

        metrics = PrometheusMetrics(
            settings.prometheus_url, preset=settings.prometheus_preset, queries=settings.prometheus_queries,
            timeout_s=timeout, min_step_s=settings.prometheus_min_step_s, service_map=smap,
            max_points=settings.prometheus_max_points,
        )
    logs: Any = simb
    if settings.logs_backend == "files":
        from tools.backends.logfiles import FileLogs

        if not settings.log_dir:
            raise ValueError("log_dir: required when logs_backend = 'files' (a directory of log files)")
        logs = FileLogs(settings.log_dir, glob=settings.log_glob, service_map=smap)
    elif settings.logs_backend == "loki":
        from tools.backends.loki import LokiLogs

        logs = LokiLogs(settings.loki_url, service_label=settings.loki_service_label,
                        level_label=settings.loki_level_label, tenant=settings.loki_tenant, timeout_s=timeout,
                        service_map=smap)
    actions: Any = simb
    if settings.actions_backend == "kubernetes":
        from tools.backends.kubernetes import KubeActions

        actions = KubeActions(settings.kube_namespace, context=settings.kube_context,
                              config_file=str(settings.kube_config) if settings.kube_config else None,
                              timeout_s=timeout, service_map=smap)
    if settings.topology_file and Path(settings.topology_file).suffix.lower() in (".yaml", ".yml", ".json"):
        from tools.topology import load_topology

        topology: Any = StaticTopology(load_topology(Path(settings.topology_file)).edge_pairs(), name="file")
    elif settings.topology_file:
        topology = StaticTopology(read_edges(Path(settings.topology_file), smap), name="file")
    elif settings.metrics_backend == "sim" and simb is not None:
        topology = simb
    else:
        from tools.services import current_topology

        topo = current_topology()
        topology = StaticTopology(topo.edge_pairs(), name=topo.name)
    names = {"metrics": metrics.name, "logs": logs.name, "actions": actions.name, "topology": topology.name}
    install_inventory(settings, metrics, sim if settings.metrics_backend == "sim" else None)
    return ToolContext(metrics=metrics, logs=logs, topology=topology, actions=actions,
                       sim=sim if settings.metrics_backend == "sim" else None, deps=ToolDeps(backends=names))


def install_inventory(settings: Any, metrics: Any = None, sim: Any = None) -> InventoryRefresher | None:
    """Make the inventory the settings' backends discover the process inventory (`tools.services`), when
    anything besides the simulator's topology says which services exist. Returns its refresher."""
    from tools.services import current_topology, set_inventory

    explicit = str(getattr(settings, "topology", "") or "").strip()
    sim_topo = getattr(sim, "topology", None) if sim is not None else None
    if sim_topo is None and explicit:
        sim_topo = current_topology()
    sources = sources_from_settings(settings, metrics if getattr(metrics, "name", "") == "prometheus" else None,
                                    sim_topo)
    if not [s for s in sources if s.name != "sim"]:
        return None
    refresher = InventoryRefresher(sources, float(getattr(settings, "inventory_ttl_s", 60.0)))
    set_inventory(refresher.get)
    return refresher


def discover_inventory(settings: Any) -> Inventory:
    """The inventory the settings' backends give now (what `keel services` lists): Prometheus label values,
    Kubernetes workloads, the topology file and [services.NAME] tables, plus the simulator's topology when
    metrics come from the simulator or `topology` is set."""
    from tools.services import current_topology

    metrics = None
    if settings.metrics_backend == "prometheus":
        from tools.backends.prometheus import PrometheusMetrics

        metrics = PrometheusMetrics(settings.prometheus_url, preset=settings.prometheus_preset,
                                    queries=settings.prometheus_queries, timeout_s=float(settings.backend_timeout_s),
                                    service_map=dict(settings.service_map or {}))
    sim_topo = current_topology() if settings.metrics_backend == "sim" or str(settings.topology or "").strip() else None
    return InventoryRefresher(sources_from_settings(settings, metrics, sim_topo)).get()


__all__ = ["BackendError", "StaticTopology", "build_backends", "read_edges"]
