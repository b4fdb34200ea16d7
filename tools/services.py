"""The current topology and inventory, and resolution of the names and aliases people use.

The current topology is the process default (`set_topology`, set by whoever builds the cluster or the
backends: `keel serve --topology`, `keel tools call --topology`, ...), overridden within a block by
`use_topology(topo)` (the end-to-end harness runs each scenario on its own topology). The current
inventory (the names tools accept, `tools.inventory`) is, innermost first: `use_inventory(inv)`, the
inventory of a `use_topology` block, the process inventory (`set_inventory`: discovered from the
backends, refreshed on its TTL), else the current topology's. `set_topology` clears the process
inventory. Nothing here knows any particular system: names come from the backends and files.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from tools.errors import InvalidInput
from tools.inventory import Inventory, from_topology
from tools.resolution import Resolution, did_you_mean, resolve
from tools.topology import Topology, default_topology

MAX_LISTED = 25  # names an unknown-service error lists in full
_default: Topology | None = None
_scoped: ContextVar[Topology | None] = ContextVar("keel_topology", default=None)
_inventory: Callable[[], Inventory] | None = None
_scoped_inventory: ContextVar[Inventory | None] = ContextVar("keel_inventory", default=None)


class UnresolvedService(InvalidInput):
    """A service name that did not resolve; `resolution` has the code and the closest names."""

    def __init__(self, message: str, resolution: Resolution) -> None:
        super().__init__(message)
        self.resolution = resolution
        self.code = resolution.code or "unknown_service"


def current_inventory() -> Inventory:
    """The inventory names resolve against here (see the module docstring for the order)."""
    scoped = _scoped_inventory.get()
    if scoped is not None:
        return scoped
    topo = _scoped.get()
    if topo is not None:
        return _topology_inventory(topo)
    if _inventory is not None:
        return _inventory()
    return _topology_inventory(current_topology())


@functools.lru_cache(maxsize=16)
def _topology_inventory(topo: Topology) -> Inventory:
    return from_topology(topo, f"sim topology {topo.name}")


def set_inventory(provider: Inventory | Callable[[], Inventory] | None) -> None:
    """Make `provider` (an inventory, or a callable returning the current one) the process inventory."""
    global _inventory
    _inventory = (lambda: provider) if isinstance(provider, Inventory) else provider


@contextmanager
def use_inventory(inventory: Inventory) -> Iterator[Inventory]:
    """Within the block, names resolve against `inventory` (a planner eval case's `services`)."""
    token = _scoped_inventory.set(inventory)
    try:
        yield inventory
    finally:
        _scoped_inventory.reset(token)


def current_topology() -> Topology:
    """The topology in use here: the innermost `use_topology`, else the process default (Online Boutique)."""
    scoped = _scoped.get()
    if scoped is not None:
        return scoped
    return _default if _default is not None else default_topology()


def set_topology(topo: Topology | None) -> None:
    """Make `topo` the process default (None: back to the embedded default)."""
    global _default, _inventory
    _default = topo
    _inventory = None


@contextmanager
def use_topology(topo: Topology) -> Iterator[Topology]:
    """Within the block, names resolve against `topo`."""
    token = _scoped.set(topo)
    try:
        yield topo
    finally:
        _scoped.reset(token)


@contextmanager
def topology_in_process(topo: Topology) -> Iterator[Topology]:
    """Within the block, `topo` is the current topology in this context and the process default (so threads the
    block starts, which do not inherit the context, see it too); the previous default is restored after."""
    previous = _default
    set_topology(topo)
    try:
        with use_topology(topo):
            yield topo
    finally:
        set_topology(previous)


def service_names(topology: Topology | None = None) -> tuple[str, ...]:
    """The topology's names when one is given, else the current inventory's."""
    return topology.names if topology is not None else current_inventory().names


def resolve_service(name: str, topology: Topology | None = None, *, for_write: bool = True) -> str:
    """Map a name, alias or near-variant to its inventory name (`tools.resolution.resolve`); raise ValueError
    naming the closest services when it does not resolve. Strict by default (files, scenarios, writes: no
    fuzzy match); `for_write=False` (a read tool's argument) also accepts one confident fuzzy match."""
    inv = _topology_inventory(topology) if topology is not None else current_inventory()
    r = resolve(name, inv, for_write=for_write)
    if r.name is None and not inv.names:
        why = "; ".join(inv.problems) or "the inventory is empty"
        raise UnresolvedService(f"unknown service {r.asked!r}: no services discovered ({why})", r)
    if r.name is None:
        names = inv.names
        listed = ", ".join(names[:MAX_LISTED]) + (f", ... ({len(names)} in all)" if len(names) > MAX_LISTED else "")
        what = "ambiguous" if r.code == "ambiguous_service" else "unknown"
        raise UnresolvedService(f"{what} service {r.asked!r}; allowed: {listed}{did_you_mean(r.candidates)}", r)
    return r.name


def alias_table(topology: Topology | None = None) -> dict[str, str]:
    """All aliases with their service names (for help text and training-data generation)."""
    return dict(topology.aliases if topology is not None else current_inventory().aliases)


@functools.lru_cache(maxsize=16)
def _alternation(names: tuple[str, ...]) -> str:
    return "|".join(sorted((re.escape(s) for s in names), key=len, reverse=True))


def names_alternation(topology: Topology | None = None) -> str:
    """A regex alternation of the topology's service names, longest first (for finding names in text)."""
    return _alternation(service_names(topology))


def service_resolution(args: object, *, for_write: bool) -> Resolution | None:
    """How the `service` argument of a raw call resolves against the current inventory (None: no such string)."""
    raw = args.get("service") if isinstance(args, dict) else None
    return resolve(raw, current_inventory(), for_write=for_write) if isinstance(raw, str) else None
