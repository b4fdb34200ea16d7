"""The Online Boutique services, their per-replica parameters and their call graph (caller -> callee)."""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from tools.services import SERVICES


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    capacity_rps: float  # requests/s one replica serves at 100% CPU
    service_ms: float  # own processing time per request at low load
    replicas: int  # default replica count
    min_replicas: int
    max_replicas: int
    base_memory_mb: float
    memory_limit_mb: float
    language: str


SPECS: dict[str, ServiceSpec] = {
    s.name: s
    for s in (
        ServiceSpec("frontend", 220, 15.0, 3, 1, 12, 120, 512, "go"),
        ServiceSpec("productcatalogservice", 550, 4.0, 3, 1, 12, 90, 256, "go"),
        ServiceSpec("currencyservice", 500, 2.0, 2, 1, 10, 110, 256, "node"),
        ServiceSpec("cartservice", 200, 5.0, 2, 1, 10, 160, 512, "c#"),
        ServiceSpec("recommendationservice", 130, 12.0, 2, 1, 10, 220, 512, "python"),
        ServiceSpec("adservice", 160, 6.0, 2, 1, 10, 300, 768, "java"),
        ServiceSpec("shippingservice", 140, 5.0, 1, 1, 8, 60, 256, "go"),
        ServiceSpec("checkoutservice", 35, 20.0, 1, 1, 8, 80, 256, "go"),
        ServiceSpec("paymentservice", 40, 8.0, 1, 1, 8, 90, 256, "node"),
        ServiceSpec("emailservice", 40, 10.0, 1, 1, 8, 150, 512, "python"),
        ServiceSpec("redis-cart", 500, 1.0, 1, 1, 3, 200, 1024, "redis"),
    )
}
assert set(SPECS) == set(SERVICES)

# (caller, callee, calls per caller request)
EDGES: tuple[tuple[str, str, float], ...] = (
    ("frontend", "productcatalogservice", 2.0),
    ("frontend", "currencyservice", 1.5),
    ("frontend", "cartservice", 0.5),
    ("frontend", "recommendationservice", 0.4),
    ("frontend", "adservice", 0.5),
    ("frontend", "shippingservice", 0.1),
    ("frontend", "checkoutservice", 0.05),
    ("checkoutservice", "productcatalogservice", 2.0),
    ("checkoutservice", "shippingservice", 2.0),
    ("checkoutservice", "currencyservice", 2.0),
    ("checkoutservice", "cartservice", 2.0),
    ("checkoutservice", "paymentservice", 1.0),
    ("checkoutservice", "emailservice", 1.0),
    ("recommendationservice", "productcatalogservice", 1.0),
    ("cartservice", "redis-cart", 1.0),
)

ENTRY = "frontend"


def call_graph() -> nx.DiGraph:
    """The call graph; edge attribute `calls` is calls per caller request."""
    g = nx.DiGraph()
    g.add_nodes_from(SERVICES)
    for a, b, c in EDGES:
        g.add_edge(a, b, calls=c)
    return g


def visits_per_request() -> dict[str, float]:
    """How many times each service is called per request entering at the frontend."""
    g = call_graph()
    visits = dict.fromkeys(SERVICES, 0.0)
    visits[ENTRY] = 1.0
    for node in nx.topological_sort(g):
        for _, callee, data in g.out_edges(node, data=True):
            visits[callee] += visits[node] * data["calls"]
    return visits


def callers(service: str) -> list[str]:
    return sorted(a for a, b, _ in EDGES if b == service)


def callees(service: str) -> list[str]:
    return sorted(b for a, b, _ in EDGES if a == service)
