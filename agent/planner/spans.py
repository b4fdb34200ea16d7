"""The service span a planner copied from the request, checked against the conversation's inventory.

The model copies the name the user wrote ("billing worker", "the cart svc", a typo); resolution is code: the
call is validated with the conversation's inventory as the current topology (exact, alias, normalised), and
a name that matches nothing becomes a short question naming the closest services instead of a call on some
other service.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from functools import lru_cache

from agent.planner.validate import Checked, check_output
from runtime.conversation import Conversation
from tools.services import service_names, use_topology
from tools.topology import Topology, topology_from_dict


@lru_cache(maxsize=32)
def _names_topology(names: tuple[str, ...]) -> Topology:
    services = [{"name": n, "capacity_rps": 100.0, "service_ms": 10.0} for n in names]
    return topology_from_dict({"name": "inventory", "entry": names[0], "services": services}, "<inventory>")


def inventory_topology(context: Conversation | None) -> Topology | None:
    """A names-only topology for a conversation's inventory, or None when it is the current topology's."""
    if context is None or not context.services or set(context.services) == set(service_names()):
        return None
    return _names_topology(tuple(dict.fromkeys(context.services)))


@contextmanager
def in_inventory(context: Conversation | None) -> Iterator[None]:
    """Within the block, names resolve against the conversation's inventory."""
    topo = inventory_topology(context)
    with use_topology(topo) if topo is not None else nullcontext():
        yield


def check_in_inventory(raw: str, context: Conversation | None) -> Checked:
    with in_inventory(context):
        return check_output(raw)


def closest(name: str, context: Conversation | None, n: int = 3) -> list[str]:
    names = list(context.services) if context is not None and context.services else list(service_names())
    lower = {x.lower(): x for x in names}
    hits = difflib.get_close_matches(name.lower(), list(lower), n=n, cutoff=0.0)
    return [lower[h] for h in hits]


def unknown_service_question(name: str, context: Conversation | None) -> str:
    near = closest(name, context)
    if not near:
        return f"I don't see a service called {name}. Which service do you mean?"
    alts = near[0] if len(near) == 1 else ", ".join(near[:-1]) + " or " + near[-1]
    return f"I don't see a service called {name}. Did you mean {alts}?"
