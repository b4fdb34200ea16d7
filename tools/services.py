"""The current topology's service names and resolution of the names and aliases people use.

The current topology is the process default (`set_topology`, set by whoever builds the cluster or the
backends: `keel serve --topology`, `keel tools call --topology`, ...), overridden within a block by
`use_topology(topo)` (the end-to-end harness runs each scenario on its own topology). Nothing here
knows any particular system: names and aliases come from the topology file.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from tools.topology import Topology, default_topology

_default: Topology | None = None
_scoped: ContextVar[Topology | None] = ContextVar("keel_topology", default=None)


def current_topology() -> Topology:
    """The topology in use here: the innermost `use_topology`, else the process default (Online Boutique)."""
    scoped = _scoped.get()
    if scoped is not None:
        return scoped
    return _default if _default is not None else default_topology()


def set_topology(topo: Topology | None) -> None:
    """Make `topo` the process default (None: back to the embedded default)."""
    global _default
    _default = topo


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
    return (topology or current_topology()).names


def _norm(name: str) -> str:
    return re.sub(r"[\s_]+", " ", name.strip().lower())


def resolve_service(name: str, topology: Topology | None = None) -> str:
    """Map a service name or alias to its name in the topology; raise ValueError listing the valid names."""
    topo = topology or current_topology()
    names = {n.lower(): n for n in topo.names}
    aliases = topo.aliases
    key = _norm(name)
    if key in names:
        return names[key]
    if key.replace(" ", "-") in names:
        return names[key.replace(" ", "-")]
    if key in aliases:
        return aliases[key]
    squashed = key.replace(" ", "").replace("-", "")
    for low, svc in names.items():
        if squashed == low.replace("-", "").replace("_", ""):
            return svc
    if squashed.endswith("service"):
        stem = squashed[: -len("service")]
        if stem in aliases:
            return aliases[stem]
        if stem in names:
            return names[stem]
    allowed = ", ".join(topo.names)
    examples = list(aliases)[:3]
    hint = f"; or aliases such as {', '.join(examples)}" if examples else ""
    raise ValueError(f"unknown service {name!r}; allowed: {allowed} (topology {topo.name}{hint})")


def alias_table(topology: Topology | None = None) -> dict[str, str]:
    """All aliases with their service names (for help text and training-data generation)."""
    return dict((topology or current_topology()).aliases)


@functools.lru_cache(maxsize=16)
def _alternation(names: tuple[str, ...]) -> str:
    return "|".join(sorted((re.escape(s) for s in names), key=len, reverse=True))


def names_alternation(topology: Topology | None = None) -> str:
    """A regex alternation of the topology's service names, longest first (for finding names in text)."""
    return _alternation(service_names(topology))
