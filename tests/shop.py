"""The embedded default topology (Online Boutique) as constants for tests that exercise it by name."""

from __future__ import annotations

from tools.topology import default_topology

SHOP = default_topology()
SERVICES = SHOP.names
IDX = SHOP.idx
SPECS = SHOP.specs
EDGES = SHOP.edges
CAPACITY = SHOP.arrays.capacity
VISITS = SHOP.arrays.visits
