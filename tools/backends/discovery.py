"""Inventory discovery: each configured backend says which services exist; the results merge, refreshed on a TTL.

Sources, in merge order (later ones win on bounds and protection):
- `sim`: the simulator's topology (when a role runs on the simulator, or `topology` is set);
- `prometheus`: the values of the preset's service label (`/api/v1/label/<label>/values` with `match[]`);
- `kubernetes`: Deployments and StatefulSets in the configured namespace(s); StatefulSets are protected
  unless keel.toml says otherwise; a HorizontalPodAutoscaler's min/max become the bounds of its target;
- `topology_file`: a caller,callee CSV (services and call graph) or a topology file (YAML/JSON);
- `keel.toml` `[services.NAME]` tables: aliases, protected, min_replicas, max_replicas.
`InventoryRefresher.get()` returns the merged inventory, discovering again when it is older than the TTL; a
source that fails keeps its last good answer and its error is listed in `problems`.
"""

from __future__ import annotations

import csv
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tools.inventory import Inventory, ServiceFacts, from_edges, from_names, from_topology, merge

Discover = Callable[[], Inventory]

# Per Prometheus preset: (label holding the service name, series selector that carries it).
PROMETHEUS_LABELS: dict[str, tuple[tuple[str, str], ...]] = {
    "keel_sim": (("service", '{__name__=~"keel_sim_.+"}'),),
    "kubernetes": (("deployment", "kube_deployment_status_replicas_available"),
                   ("destination_workload", "istio_requests_total")),
}


@dataclass(frozen=True)
class Source:
    """One place services are discovered from: its name (shown as the source of facts) and how to ask it."""

    name: str
    discover: Discover


def _unmap(service_map: Mapping[str, str] | None) -> Callable[[str], str]:
    reverse = {v: k for k, v in (service_map or {}).items()}
    return lambda name: reverse.get(name, name)


def prometheus_source(metrics: Any, preset: str, service_map: Mapping[str, str] | None = None) -> Source:
    """Services are the values of the preset's service label (`metrics` is a `PrometheusMetrics`)."""
    labels = PROMETHEUS_LABELS.get(preset, ())
    if not labels:  # custom presets: the labels their queries group by
        labels = tuple(dict.fromkeys((q.label, "") for q in metrics.queries.values()))
    unmap = _unmap(service_map)

    def discover() -> Inventory:
        parts = []
        for label, match in labels:
            values = metrics.api(f"label/{label}/values", {"match[]": match} if match else {}) or []
            parts.append(from_names(sorted(unmap(str(v)) for v in values),
                                    f"prometheus at {metrics.url}: label {label}"))
        return merge(parts)

    return Source("prometheus", discover)


def kubernetes_source(api_client: Any, namespaces: tuple[str, ...], service_map: Mapping[str, str] | None = None,
                      timeout_s: float = 5.0) -> Source:
    """Deployments and StatefulSets (protected) of the namespaces, with HorizontalPodAutoscaler bounds.
    `api_client` is a kubernetes ApiClient, or a function making one (called at each discovery)."""
    from kubernetes import client as k8s

    unmap = _unmap(service_map)

    def discover() -> Inventory:
        api = api_client() if callable(api_client) else api_client
        apps, scaling = k8s.AppsV1Api(api), k8s.AutoscalingV1Api(api)
        services: list[ServiceFacts] = []
        for ns in namespaces:
            hpas: dict[tuple[str, str], tuple[int, int, str]] = {}
            for h in scaling.list_namespaced_horizontal_pod_autoscaler(ns, _request_timeout=timeout_s).items:
                ref = h.spec.scale_target_ref
                hname = h.metadata.name if h.metadata is not None else "?"
                hpas[(str(ref.kind), str(ref.name))] = (int(h.spec.min_replicas or 1), int(h.spec.max_replicas),
                                                        f"kubernetes HorizontalPodAutoscaler {ns}/{hname}")
            for kind, lister in (("Deployment", apps.list_namespaced_deployment),
                                 ("StatefulSet", apps.list_namespaced_stateful_set)):
                for obj in lister(ns, _request_timeout=timeout_s).items:
                    if obj.metadata is None or not obj.metadata.name:
                        continue
                    name = str(obj.metadata.name)
                    src = f"kubernetes {kind} {ns}/{name}"
                    facts = {"name": src}
                    protected = kind == "StatefulSet"
                    if protected:
                        facts["protected"] = f"{src} (StatefulSets are protected by default)"
                    lo = hi = None
                    if (kind, name) in hpas:
                        lo, hi, hsrc = hpas[(kind, name)]
                        facts.update(min_replicas=hsrc, max_replicas=hsrc)
                    services.append(ServiceFacts(unmap(name), (), lo, hi, protected, facts))
        return merge([Inventory(tuple([s])) for s in services])

    return Source("kubernetes", discover)


def topology_file_source(path: Path, service_map: Mapping[str, str] | None = None) -> Source:
    """A caller,callee CSV (services and call graph) or a topology file in the YAML/JSON format."""

    def discover() -> Inventory:
        if path.suffix.lower() in (".yaml", ".yml", ".json"):
            from tools.topology import load_topology

            return from_topology(load_topology(path), f"topology_file {path}")
        return from_edges(read_edges(path, dict(service_map or {})), f"topology_file {path}")

    return Source("topology_file", discover)


def read_edges(path: Path, service_map: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """Edges from a CSV with caller,callee (or source,target) columns, else its first two columns."""
    if not path.is_file():
        raise ValueError(f"topology_file: no such file {path}")
    reverse = {v: k for k, v in (service_map or {}).items()}
    with path.open(newline="") as fh:
        rows = [r for r in csv.reader(fh) if r and not r[0].startswith("#")]
    if not rows:
        raise ValueError(f"topology_file: {path} has no edges")
    header = [c.strip().lower() for c in rows[0]]
    a, b = 0, 1
    for pair in (("caller", "callee"), ("source", "target"), ("src", "dst"), ("from", "to")):
        if pair[0] in header and pair[1] in header:
            a, b = header.index(pair[0]), header.index(pair[1])
            rows = rows[1:]
            break
    edges = []
    for r in rows:
        if len(r) <= max(a, b):
            raise ValueError(f"topology_file: {path}: row {r!r} has fewer than two columns")
        x, y = r[a].strip(), r[b].strip()
        edges.append((reverse.get(x, x), reverse.get(y, y)))
    return list(dict.fromkeys(edges))


def services_table_source(tables: Mapping[str, Any]) -> Source:
    """keel.toml `[services.NAME]` tables (validated by `config.settings.ServiceTable`)."""

    def discover() -> Inventory:
        out = []
        for name, t in tables.items():
            src = f"keel.toml [services.{name}]"
            t = t if isinstance(t, Mapping) else t.model_dump(exclude_unset=True)
            facts = {"name": src}
            for key in ("aliases", "protected", "min_replicas", "max_replicas"):
                if t.get(key) is not None:
                    facts[key] = src
            out.append(ServiceFacts(name, tuple(a.strip().lower() for a in t.get("aliases") or ()),
                                    t.get("min_replicas"), t.get("max_replicas"), bool(t.get("protected")), facts))
        return Inventory(tuple(out))

    return Source("keel.toml", discover)


EMPTY_RETRY_S = 5.0


class InventoryRefresher:
    """The merged inventory of `sources`, discovered again when older than `ttl_s` (thread-safe)."""

    def __init__(self, sources: list[Source], ttl_s: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.sources = list(sources)
        self.ttl_s = ttl_s
        self.clock = clock
        self._last: dict[str, Inventory] = {}
        self._merged: Inventory | None = None
        self._at = 0.0
        self._lock = threading.Lock()

    def get(self) -> Inventory:
        """The inventory, discovered again after `ttl_s`; an empty one (a Prometheus with no series yet, every
        source down) after at most EMPTY_RETRY_S, so services show up as soon as they are scraped."""
        with self._lock:
            ttl = self.ttl_s if self._merged is None or self._merged.names else min(self.ttl_s, EMPTY_RETRY_S)
            if self._merged is None or self.clock() - self._at >= ttl:
                self._merged = self._discover()
                self._at = self.clock()
            return self._merged

    def refresh(self) -> Inventory:
        with self._lock:
            self._merged = self._discover()
            self._at = self.clock()
            return self._merged

    def _discover(self) -> Inventory:
        parts, problems = [], []
        for s in self.sources:
            try:
                self._last[s.name] = s.discover()
            except Exception as e:  # a source that is down keeps its last answer; the problem is shown
                kept = " (keeping its last answer)" if s.name in self._last else ""
                problems.append(f"{s.name}: {type(e).__name__}: {e}"[:300] + kept)
            if s.name in self._last:
                parts.append(self._last[s.name])
        merged = merge(parts)
        return replace(merged, problems=merged.problems + tuple(problems), discovered_at=time.time())


def sources_from_settings(settings: Any, metrics: Any = None, sim_topology: Any = None) -> list[Source]:
    """The discovery sources the settings configure (`metrics`: the PrometheusMetrics backend, if any)."""
    smap = dict(getattr(settings, "service_map", None) or {})
    out: list[Source] = []
    if sim_topology is not None:
        out.append(Source("sim", lambda: from_topology(sim_topology, f"sim topology {sim_topology.name}")))
    if metrics is not None and getattr(metrics, "name", "") == "prometheus":
        out.append(prometheus_source(metrics, settings.prometheus_preset, smap))
    if settings.actions_backend == "kubernetes":
        from tools.backends.kubernetes import load_api_client

        def client() -> Any:
            return load_api_client(settings.kube_context, str(settings.kube_config) if settings.kube_config else None)

        listed = settings.kube_namespaces or settings.kube_namespace
        namespaces = tuple(n.strip() for n in listed.split(",") if n.strip())
        out.append(kubernetes_source(client, namespaces, smap, float(settings.backend_timeout_s)))
    if settings.topology_file:
        out.append(topology_file_source(Path(settings.topology_file), smap))
    tables = getattr(settings, "services", None) or {}
    if tables:
        out.append(services_table_source(tables))
    return out
