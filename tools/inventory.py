"""The inventory: the services keel may talk about, with what is known of each and where each fact came from.

An `Inventory` holds service names, aliases, the call graph when known, replica bounds and `protected`;
every fact carries its source (`sim topology online-boutique`, `prometheus label service`, `kubernetes
StatefulSet shop/orders-db`, `keel.toml [services.orders]`, ...). Inventories from several sources merge:
names are the union, aliases add up, bounds and `protected` come from the most specific source that
states them (later sources win: keel.toml, last, may unprotect a StatefulSet).
Pure data; discovery lives in `tools.backends.discovery`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from tools.topology import Topology


@dataclass(frozen=True)
class ServiceFacts:
    """One service: its name, aliases, replica bounds, protection, and the source of each fact."""

    name: str
    aliases: tuple[str, ...] = ()
    min_replicas: int | None = None
    max_replicas: int | None = None
    protected: bool = False
    sources: Mapping[str, str] = field(default_factory=dict)  # fact ("name", "aliases", ...) -> source

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "aliases": list(self.aliases), "min_replicas": self.min_replicas,
                "max_replicas": self.max_replicas, "protected": self.protected, "sources": dict(self.sources)}

    def merged(self, other: ServiceFacts) -> ServiceFacts:
        """This service's facts updated by `other` (a later, more specific source) for the same name."""
        src = dict(self.sources)
        aliases = tuple(dict.fromkeys(self.aliases + other.aliases))
        if other.aliases:
            src["aliases"] = ", ".join(dict.fromkeys(filter(None, [src.get("aliases"), other.sources.get("aliases")])))
        lo, hi = self.min_replicas, self.max_replicas
        if other.min_replicas is not None:
            lo, src["min_replicas"] = other.min_replicas, other.sources.get("min_replicas", "")
        if other.max_replicas is not None:
            hi, src["max_replicas"] = other.max_replicas, other.sources.get("max_replicas", "")
        protected = self.protected
        if "protected" in other.sources:  # stated by the later source: it wins (keel.toml may unprotect)
            protected, src["protected"] = other.protected, other.sources["protected"]
        elif not protected:
            src.pop("protected", None)
        names = [s for s in (src.get("name"), other.sources.get("name")) if s]
        src["name"] = ", ".join(dict.fromkeys(", ".join(names).split(", ")))
        return ServiceFacts(self.name, aliases, lo, hi, protected, src)


@dataclass(frozen=True)
class Inventory:
    """Services (in first-seen order), the call graph (caller, callee) when known, and discovery problems."""

    services: tuple[ServiceFacts, ...] = ()
    edges: tuple[tuple[str, str], ...] = ()
    problems: tuple[str, ...] = ()  # sources that failed (the last good facts of a refreshed inventory stay)
    discovered_at: float = 0.0

    @functools.cached_property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.services)

    @functools.cached_property
    def by_name(self) -> dict[str, ServiceFacts]:
        return {s.name: s for s in self.services}

    @functools.cached_property
    def aliases(self) -> dict[str, str]:
        """Alias (lower case) -> service name."""
        return {a.lower(): s.name for s in self.services for a in s.aliases}

    @functools.cached_property
    def protected(self) -> frozenset[str]:
        return frozenset(s.name for s in self.services if s.protected)

    def __contains__(self, name: object) -> bool:
        return name in self.by_name

    def __len__(self) -> int:
        return len(self.services)

    def bounds(self, name: str) -> tuple[int, int] | None:
        s = self.by_name.get(name)
        if s is None or s.min_replicas is None or s.max_replicas is None:
            return None
        return s.min_replicas, s.max_replicas

    def to_dict(self) -> dict[str, Any]:
        return {"services": [s.to_dict() for s in self.services], "edges": [list(e) for e in self.edges],
                "problems": list(self.problems), "discovered_at": self.discovered_at}


def from_topology(topo: Topology, source: str | None = None) -> Inventory:
    """The inventory of a topology (the simulator's, or a topology file's): every fact from that source."""
    src = source or f"topology {topo.name}"
    services = []
    for s in topo.services:
        facts = {"name": src, "min_replicas": src, "max_replicas": src}
        if s.aliases:
            facts["aliases"] = src
        if s.protected:
            facts["protected"] = src
        services.append(ServiceFacts(s.name, tuple(s.aliases), s.min_replicas, s.max_replicas, s.protected, facts))
    return Inventory(tuple(services), tuple(topo.edge_pairs()))


def from_names(names: Iterable[str], source: str) -> Inventory:
    """An inventory that knows only names (Prometheus label values, a planner eval case's `services`)."""
    clean = [str(n).strip() for n in names if str(n).strip()]
    return Inventory(tuple(ServiceFacts(n, sources={"name": source}) for n in dict.fromkeys(clean)))


def from_edges(edges: Iterable[tuple[str, str]], source: str) -> Inventory:
    """An inventory from a call graph (a caller,callee CSV): its services and edges."""
    pairs = tuple(dict.fromkeys((a, b) for a, b in edges))
    names = dict.fromkeys(n for e in pairs for n in e)
    return replace(from_names(names, source), edges=pairs)


def merge(parts: Iterable[Inventory]) -> Inventory:
    """One inventory from several (later parts win on bounds; names, aliases, edges and problems add up).

    An alias that would name two services is dropped from the later one (the message goes to `problems`)."""
    by: dict[str, ServiceFacts] = {}
    edges: dict[tuple[str, str], None] = {}
    problems: list[str] = []
    when = 0.0
    for inv in parts:
        for s in inv.services:
            by[s.name] = by[s.name].merged(s) if s.name in by else s
        edges.update(dict.fromkeys(inv.edges))
        problems.extend(inv.problems)
        when = max(when, inv.discovered_at)
    owner: dict[str, str] = {n.lower(): n for n in by}
    out = []
    for s in by.values():
        keep = []
        for a in s.aliases:
            key = a.lower()
            if owner.setdefault(key, s.name) != s.name:
                problems.append(f"alias {a!r} of {s.name} already names {owner[key]}; ignored")
                continue
            keep.append(a)
        out.append(replace(s, aliases=tuple(keep)) if len(keep) != len(s.aliases) else s)
    return Inventory(tuple(out), tuple(edges), tuple(problems), when)
