"""A system's topology as data: services (capacity, service time, replicas and bounds, memory, protection,
aliases), the call graph and the entry service; loaded and validated from topology files (YAML or JSON).

`load_topology(NAME|PATH)` accepts a built-in name (`online-boutique`, `sock-shop`, `bank-of-anthos`, the files
in `tools/topologies/`) or a path; `topology_from_dict(raw, source)` builds one from a mapping (generated
topologies). Errors name the file and the field: unknown callee, a cycle, an entry that is not a service,
capacity <= 0, ... The per-service arrays the simulator needs (`Topology.arrays`) are built once per topology,
in the file's service order; `levels` gives the call graph leaves-first for vectorised propagation.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tools.errors import InvalidInput

BUILTIN_DIR = Path(__file__).resolve().parent / "topologies"
DEFAULT_TOPOLOGY = "online-boutique"
_BUILT: dict[str, Topology] = {}  # the last topology built under each name in this process (by `reference`)


class TopologyError(InvalidInput):
    """A topology file or mapping that is not valid; the message names the file and the field."""


class _ServiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(..., min_length=1, max_length=120, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/-]*$")
    capacity_rps: float = Field(..., gt=0, description="requests/s one replica serves at 100% CPU")
    service_ms: float = Field(..., gt=0, description="own processing time per request at low load")
    replicas: int = Field(1, ge=1)
    min_replicas: int = Field(1, ge=1)
    max_replicas: int = Field(10, ge=1)
    memory_mb: float = Field(128.0, gt=0)
    memory_limit_mb: float = Field(512.0, gt=0)
    protected: bool = False
    aliases: list[str] = []
    language: str = ""

    @model_validator(mode="after")
    def _bounds(self) -> _ServiceIn:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"min_replicas {self.min_replicas} > max_replicas {self.max_replicas}")
        if not self.min_replicas <= self.replicas <= self.max_replicas:
            raise ValueError(f"replicas {self.replicas} outside [min_replicas {self.min_replicas}, "
                             f"max_replicas {self.max_replicas}]")
        if self.memory_mb >= self.memory_limit_mb:
            raise ValueError(f"memory_mb {self.memory_mb:g} must be below memory_limit_mb {self.memory_limit_mb:g}")
        return self


class _EdgeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    caller: str
    callee: str
    calls: float = Field(1.0, gt=0, description="calls per caller request")


class _TopologyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(..., min_length=1)
    entry: str
    services: list[_ServiceIn] = Field(..., min_length=1)
    edges: list[_EdgeIn] = []
    description: str = ""


@dataclass(frozen=True)
class ServiceSpec:
    """One service of a topology."""

    name: str
    capacity_rps: float  # requests/s one replica serves at 100% CPU
    service_ms: float  # own processing time per request at low load
    replicas: int  # default replica count
    min_replicas: int
    max_replicas: int
    memory_mb: float  # resident memory per replica at rest
    memory_limit_mb: float
    protected: bool = False
    aliases: tuple[str, ...] = ()
    language: str = ""

    @property
    def base_memory_mb(self) -> float:
        return self.memory_mb


@dataclass(frozen=True)
class Arrays:
    """Per-service constants as arrays in the topology's service order (what the performance model reads)."""

    capacity: np.ndarray
    service_ms: np.ndarray
    base_mem: np.ndarray
    mem_limit: np.ndarray
    visits: np.ndarray  # calls per request entering at the entry service
    replicas: np.ndarray  # default replica counts (float)


@dataclass(frozen=True)
class Level:
    """Services whose callees are all in earlier levels, and their calls in file order.

    Accumulating over the calls with `np.add.at` (sequential per index) adds each caller's callees in the
    order the file lists them, as a loop over the edges would.
    """

    nodes: np.ndarray
    callers: np.ndarray  # per call: caller index
    callees: np.ndarray  # per call: callee index
    calls: np.ndarray  # per call: calls per caller request
    fractional: np.ndarray  # indices of the calls with calls != 1 (where x ** calls is not x)
    exponents: tuple[float, ...]  # their calls


@dataclass(frozen=True)
class Topology:
    """Services, call graph (caller, callee, calls per caller request) and the entry service."""

    name: str
    entry: str
    services: tuple[ServiceSpec, ...]
    edges: tuple[tuple[str, str, float], ...]
    source: str = ""
    description: str = ""
    _index: dict[str, int] = field(default_factory=dict, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        self._index.update({s.name: i for i, s in enumerate(self.services)})

    # ------------------------------------------------------------------ names
    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.services)

    @property
    def idx(self) -> dict[str, int]:
        """Service name -> position in every per-service array."""
        return self._index

    def __len__(self) -> int:
        return len(self.services)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def spec(self, name: str) -> ServiceSpec:
        try:
            return self.services[self._index[name]]
        except KeyError:
            raise KeyError(f"unknown service {name!r} in topology {self.name}; allowed: "
                           f"{', '.join(self.names)}") from None

    @functools.cached_property
    def specs(self) -> dict[str, ServiceSpec]:
        return {s.name: s for s in self.services}

    @functools.cached_property
    def protected(self) -> frozenset[str]:
        return frozenset(s.name for s in self.services if s.protected)

    @functools.cached_property
    def aliases(self) -> dict[str, str]:
        """Alias -> service name (lower-case aliases as written in the file)."""
        return {a: s.name for s in self.services for a in s.aliases}

    # ------------------------------------------------------------------ graph
    def call_graph(self) -> nx.DiGraph:
        """The call graph; edge attribute `calls` is calls per caller request."""
        g = nx.DiGraph()
        g.add_nodes_from(self.names)
        for a, b, c in self.edges:
            g.add_edge(a, b, calls=c)
        return g

    def edge_pairs(self) -> list[tuple[str, str]]:
        return [(a, b) for a, b, _ in self.edges]

    def callers(self, service: str) -> list[str]:
        return sorted(a for a, b, _ in self.edges if b == service)

    def callees(self, service: str) -> list[str]:
        return sorted(b for a, b, _ in self.edges if a == service)

    @functools.cached_property
    def callee_map(self) -> dict[str, tuple[str, ...]]:
        out: dict[str, list[str]] = {s: [] for s in self.names}
        for a, b, _ in self.edges:
            out[a].append(b)
        return {s: tuple(sorted(v)) for s, v in out.items()}

    def visits_per_request(self) -> dict[str, float]:
        """How many times each service is called per request entering at the entry service."""
        v = self.arrays.visits
        return {s: float(v[i]) for i, s in enumerate(self.names)}

    @functools.cached_property
    def levels(self) -> tuple[Level, ...]:
        """The services leaves-first: level h holds the services whose longest call chain down has h calls."""
        n = len(self.services)
        calls: list[list[tuple[int, float]]] = [[] for _ in range(n)]
        for a, b, c in self.edges:
            calls[self._index[a]].append((self._index[b], c))
        height = np.zeros(n, dtype=int)
        for i in reversed(self._topo_order()):
            if calls[i]:
                height[i] = 1 + max(height[j] for j, _ in calls[i])
        out = []
        for h in range(int(height.max()) + 1 if n else 0):
            nodes = np.flatnonzero(height == h)
            at = set(nodes.tolist())
            edges = [(self._index[a], self._index[b], c) for a, b, c in self.edges if self._index[a] in at]
            k = np.array([c for _, _, c in edges], dtype=float)
            frac = np.flatnonzero(k != 1.0)
            out.append(Level(nodes, np.array([a for a, _, _ in edges], dtype=int),
                             np.array([b for _, b, _ in edges], dtype=int), k, frac, tuple(k[frac].tolist())))
        return tuple(out)

    @functools.cached_property
    def calls_leaves_first(self) -> tuple[tuple[int, tuple[tuple[int, float], ...]], ...]:
        """(service index, its calls as (callee index, calls) in file order), every callee before its callers."""
        calls: list[list[tuple[int, float]]] = [[] for _ in self.services]
        for a, b, c in self.edges:
            calls[self._index[a]].append((self._index[b], c))
        return tuple((i, tuple(calls[i])) for i in reversed(self._topo_order()))

    def _topo_order(self) -> list[int]:
        g = nx.DiGraph()
        g.add_nodes_from(range(len(self.services)))
        g.add_edges_from((self._index[a], self._index[b]) for a, b, _ in self.edges)
        return list(nx.topological_sort(g))

    @functools.cached_property
    def arrays(self) -> Arrays:
        n = len(self.services)
        visits = np.zeros(n)
        visits[self._index[self.entry]] = 1.0
        out_edges: list[list[tuple[int, float]]] = [[] for _ in range(n)]
        for a, b, c in self.edges:
            out_edges[self._index[a]].append((self._index[b], c))
        for i in self._topo_order():
            for j, c in out_edges[i]:
                visits[j] += visits[i] * c
        return Arrays(
            capacity=np.array([s.capacity_rps for s in self.services], dtype=float),
            service_ms=np.array([s.service_ms for s in self.services], dtype=float),
            base_mem=np.array([s.memory_mb for s in self.services], dtype=float),
            mem_limit=np.array([s.memory_limit_mb for s in self.services], dtype=float),
            visits=visits,
            replicas=np.array([s.replicas for s in self.services], dtype=float),
        )

    def utilisation(self, entry_rps: float) -> dict[str, float]:
        """Each service's CPU utilisation at its default replicas under `entry_rps` at the entry (no faults)."""
        a = self.arrays
        u = entry_rps * a.visits / (a.capacity * a.replicas)
        return {s: float(u[i]) for i, s in enumerate(self.names)}

    @property
    def reference(self) -> str:
        """What `load_topology` turns back into this topology: its file, else its name."""
        return self.source if self.source.endswith((".yaml", ".yml", ".json")) else self.name

    def to_dict(self) -> dict[str, Any]:
        """The topology in the file format (round-trips through `topology_from_dict`)."""
        services = []
        for s in self.services:
            d: dict[str, Any] = {"name": s.name, "capacity_rps": s.capacity_rps, "service_ms": s.service_ms,
                                 "replicas": s.replicas, "min_replicas": s.min_replicas,
                                 "max_replicas": s.max_replicas, "memory_mb": s.memory_mb,
                                 "memory_limit_mb": s.memory_limit_mb}
            if s.protected:
                d["protected"] = True
            if s.aliases:
                d["aliases"] = list(s.aliases)
            if s.language:
                d["language"] = s.language
            services.append(d)
        return {"name": self.name, "entry": self.entry, "services": services,
                "edges": [{"caller": a, "callee": b, "calls": c} for a, b, c in self.edges]}


def _field(loc: tuple[Any, ...], raw: dict[str, Any]) -> str:
    """`services[3].capacity_rps (orders)`: a validation location with the service's name when there is one."""
    parts: list[str] = []
    for p in loc:
        if isinstance(p, int):
            parts[-1] = f"{parts[-1]}[{p}]" if parts else f"[{p}]"
        else:
            parts.append(str(p))
    text = ".".join(parts) or "topology"
    if len(loc) >= 2 and loc[0] == "services" and isinstance(loc[1], int):
        items = raw.get("services")
        if isinstance(items, list) and loc[1] < len(items) and isinstance(items[loc[1]], dict):
            name = items[loc[1]].get("name")
            if name:
                text += f" ({name})"
    return text


def topology_from_dict(raw: Any, source: str = "<dict>") -> Topology:
    """Validate a mapping in the topology file format and build the Topology; TopologyError names source and field."""
    if not isinstance(raw, dict):
        raise TopologyError(f"{source}: a topology must be a mapping with name, entry, services, edges")
    try:
        t = _TopologyIn.model_validate(raw)
    except ValidationError as err:
        msgs = "; ".join(f"{_field(tuple(d['loc']), raw)}: {str(d['msg']).removeprefix('Value error, ')}"
                         for d in err.errors())
        raise TopologyError(f"{source}: {msgs}") from None
    names = [s.name for s in t.services]
    seen: set[str] = set()
    for k, n in enumerate(names):
        if n in seen:
            raise TopologyError(f"{source}: services[{k}].name: duplicate service {n!r}")
        seen.add(n)
    if t.entry not in seen:
        raise TopologyError(f"{source}: entry: {t.entry!r} is not a service; services: {', '.join(names)}")
    pairs: set[tuple[str, str]] = set()
    for k, e in enumerate(t.edges):
        for role in ("caller", "callee"):
            v = getattr(e, role)
            if v not in seen:
                raise TopologyError(f"{source}: edges[{k}].{role}: unknown service {v!r} ({e.caller} -> {e.callee});"
                                    f" services: {', '.join(names)}")
        if e.caller == e.callee:
            raise TopologyError(f"{source}: edges[{k}]: {e.caller} calls itself (a cycle)")
        if (e.caller, e.callee) in pairs:
            raise TopologyError(f"{source}: edges[{k}]: duplicate edge {e.caller} -> {e.callee}")
        pairs.add((e.caller, e.callee))
    g = nx.DiGraph()
    g.add_nodes_from(names)
    g.add_edges_from(pairs)
    try:
        cycle = nx.find_cycle(g)
    except nx.NetworkXNoCycle:
        cycle = []
    if cycle:
        loop = " -> ".join([a for a, _ in cycle] + [cycle[0][0]])
        raise TopologyError(f"{source}: edges: the call graph has a cycle: {loop}")
    taken: dict[str, str] = {n.lower(): n for n in names}
    for k, s in enumerate(t.services):
        for a in s.aliases:
            key = a.strip().lower()
            if not key:
                raise TopologyError(f"{source}: services[{k}].aliases ({s.name}): empty alias")
            if key in taken and taken[key] != s.name:
                raise TopologyError(f"{source}: services[{k}].aliases ({s.name}): {a!r} already names "
                                    f"{taken[key]}")
            taken[key] = s.name
    unreachable = sorted(set(names) - {t.entry} - nx.descendants(g, t.entry))
    specs = tuple(
        ServiceSpec(s.name, s.capacity_rps, s.service_ms, s.replicas, s.min_replicas, s.max_replicas, s.memory_mb,
                    s.memory_limit_mb, s.protected, tuple(a.strip().lower() for a in s.aliases), s.language)
        for s in t.services
    )
    desc = t.description
    if unreachable and not desc:
        desc = f"not called from {t.entry}: {', '.join(unreachable)}"
    topo = Topology(t.name, t.entry, specs, tuple((e.caller, e.callee, e.calls) for e in t.edges), source, desc)
    _BUILT[topo.name] = topo
    return topo


def builtin_names() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml"))


def _read(path: Path) -> Any:
    text = path.read_text()
    try:
        return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as err:
        raise TopologyError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {err}") from None


@functools.lru_cache(maxsize=32)
def _load_path(path: Path, mtime: float) -> Topology:
    return topology_from_dict(_read(path), str(path))


def load_topology(ref: str | Path | Topology | None = None, base_dir: Path | None = None) -> Topology:
    """A built-in topology by name, or a topology file (relative paths against `base_dir`, then the cwd)."""
    if isinstance(ref, Topology):
        return ref
    if ref is None or str(ref).strip() == "":
        ref = DEFAULT_TOPOLOGY
    text = str(ref).strip()
    if "/" not in text and "\\" not in text and not text.endswith((".yaml", ".yml", ".json")):
        builtin = BUILTIN_DIR / f"{text}.yaml"
        if builtin.is_file():
            return _load_path(builtin, builtin.stat().st_mtime)
        if text in _BUILT:  # one built in this process from a mapping (e.g. a generated topology)
            return _BUILT[text]
        raise TopologyError(f"unknown topology {text!r}; built-in: {', '.join(builtin_names())} (or a YAML/JSON "
                            "file path)")
    path = Path(text).expanduser()
    if not path.is_absolute() and base_dir is not None and (base_dir / path).is_file():
        path = base_dir / path
    if not path.is_file():
        raise TopologyError(f"topology file not found: {path}")
    path = path.resolve()
    return _load_path(path, path.stat().st_mtime)


def default_topology() -> Topology:
    """The embedded default: Online Boutique."""
    return load_topology(DEFAULT_TOPOLOGY)
