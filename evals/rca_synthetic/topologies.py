"""Random layered service topologies in the topology file format (docs/ARCHITECTURE.md), for the synthetic RCA
benchmark.

A topology of `size` services in `depth` layers: one entry service on layer 0, the others spread over
layers 1..depth-1 (each layer at least one service). Every service below the entry has a caller on the
layer just above it (so the layers are real call depths) and, with probability `extra_edge_p`, a second
caller from any layer above; the last layer holds stores (`-db`, `-cache`, `-queue`) with one replica.
Capacities are set from the visits per entry request so that each service runs at 20-60% of its
capacity at `peak_rps`: a fault shows as a fault, not as a cluster that was already overloaded.
Names are generated from word lists, never the embedded shop's, so nothing can key on them.
"""

from __future__ import annotations

import math
from typing import Any

import networkx as nx
import numpy as np

_DOMAINS = (
    "ledger", "billing", "invoice", "account", "profile", "search", "catalog", "pricing", "quote", "order",
    "fulfil", "inventory", "shipment", "tracking", "notify", "mailer", "auth", "session", "token", "media",
    "thumbnail", "review", "rating", "loyalty", "coupon", "tax", "fraud", "risk", "report", "export",
    "audit", "geo", "routing", "booking", "seat", "ticket", "payout", "wallet", "ranking", "feed",
)
_ROLES = ("api", "svc", "worker", "gateway", "engine", "core", "handler", "proxy")
_STORES = ("db", "cache", "queue", "store")
MIN_SIZE, MAX_SIZE = 2, 5000
MIN_DEPTH, MAX_DEPTH = 2, 12


def _names(n: int, rng: np.random.Generator, stores: set[int]) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for i in range(n):
        suffixes = _STORES if i in stores else _ROLES
        for attempt in range(1000):
            name = f"{_DOMAINS[rng.integers(len(_DOMAINS))]}-{suffixes[rng.integers(len(suffixes))]}"
            if attempt > 20:
                name += f"-{attempt}"
            if name not in seen:
                break
        seen.add(name)
        out.append(name)
    return out


def _layers(size: int, depth: int, rng: np.random.Generator) -> list[int]:
    """Layer of each service: [0, ...]; layers 1..depth-1 each get at least one service."""
    rest = size - 1
    per = np.ones(depth - 1, dtype=int)
    if rest > depth - 1:
        # wider in the middle, as real call graphs are
        w = 1.0 + np.sin(np.linspace(0.3, math.pi - 0.3, depth - 1)) + rng.uniform(0, 0.5, depth - 1)
        extra = rng.multinomial(rest - (depth - 1), w / w.sum())
        per += extra
    out = [0]
    for layer, k in enumerate(per, start=1):
        out += [layer] * int(k)
    return out


def generate(size: int, depth: int, seed: int = 0, peak_rps: float = 400.0, extra_edge_p: float = 0.35,
             name: str | None = None) -> dict[str, Any]:
    """One topology as a dict in the topology file format (write it with json or yaml as it is)."""
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"size: got {size}; allowed: {MIN_SIZE}..{MAX_SIZE}")
    if not MIN_DEPTH <= depth <= MAX_DEPTH:
        raise ValueError(f"depth: got {depth}; allowed: {MIN_DEPTH}..{MAX_DEPTH}")
    depth = min(depth, size)
    rng = np.random.default_rng(seed)
    layer = _layers(size, depth, rng)
    last = depth - 1
    stores = {i for i, lay in enumerate(layer) if lay == last and lay > 0}
    names = _names(size, rng, stores)
    by_layer: dict[int, list[int]] = {}
    for i, lay in enumerate(layer):
        by_layer.setdefault(lay, []).append(i)
    edges: dict[tuple[int, int], float] = {}
    for i, lay in enumerate(layer):
        if lay == 0:
            continue
        above = by_layer[lay - 1]
        edges[(int(above[rng.integers(len(above))]), i)] = float(np.round(rng.uniform(0.2, 1.5), 2))
        if rng.random() < extra_edge_p:
            earlier = [j for j in range(len(layer)) if layer[j] < lay and (j, i) not in edges]
            if earlier:
                edges[(int(earlier[rng.integers(len(earlier))]), i)] = float(np.round(rng.uniform(0.1, 1.0), 2))
    g = nx.DiGraph()
    g.add_nodes_from(range(size))
    for (a, b), c in edges.items():
        g.add_edge(a, b, calls=c)
    visits = dict.fromkeys(range(size), 0.0)
    visits[0] = 1.0
    for node in nx.topological_sort(g):
        for _, callee, data in g.out_edges(node, data=True):
            visits[callee] += visits[node] * data["calls"]
    services = []
    for i in range(size):
        store = i in stores
        replicas = 1 if store else int(rng.integers(1, 4))
        utilisation = rng.uniform(0.2, 0.6)
        capacity = max(5.0, peak_rps * visits[i] / (replicas * utilisation))
        memory = float(np.round(rng.uniform(60, 400)))
        services.append({
            "name": names[i],
            "capacity_rps": float(np.round(capacity, 1)),
            "service_ms": float(np.round(rng.uniform(1, 4) if store else rng.uniform(3, 20), 1)),
            "replicas": replicas,
            "min_replicas": 1,
            "max_replicas": 1 if store else 12,
            "memory_mb": memory,
            "memory_limit_mb": float(np.round(memory * rng.uniform(2.5, 5))),
            **({"protected": True} if store else {}),
        })
    return {
        "name": name or f"layered-{size}x{depth}-s{seed}",
        "entry": names[0],
        "services": services,
        "edges": [{"caller": names[a], "callee": names[b], "calls": c} for (a, b), c in edges.items()],
    }


def call_graph(topology: dict[str, Any]) -> nx.DiGraph:
    """caller -> callee over the service names of a topology dict."""
    g = nx.DiGraph()
    g.add_nodes_from(s["name"] for s in topology["services"])
    g.add_edges_from((e["caller"], e["callee"]) for e in topology["edges"])
    return g


def depth_of(topology: dict[str, Any]) -> int:
    """Number of layers: the longest call chain from the entry, counted in services."""
    g = call_graph(topology)
    return int(nx.dag_longest_path_length(g)) + 1 if g.number_of_nodes() else 0
