"""The service span a planner copied from the request, checked against the conversation's inventory.

The model copies the name the user wrote ("billing worker", "the cart svc", a typo); resolution is code: the
call is validated with the conversation's inventory as the current topology (exact, alias, normalised), and
a name that matches nothing becomes a short question naming the closest services instead of a call on some
other service.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from agent.planner.validate import Checked, check_call, check_output
from runtime.conversation import Conversation
from runtime.grounded_targets import inventory_for
from runtime.prompt import decode_call
from tools.inventory import Inventory
from tools.resolution import close_names, closest
from tools.services import use_inventory


def in_inventory(context: Conversation | None) -> AbstractContextManager[Inventory]:
    """Within the block, names resolve against the conversation's inventory (its `services`, else the current)."""
    return use_inventory(inventory_for(context))


def check_in_inventory(raw: str, context: Conversation | None) -> Checked:
    with in_inventory(context):
        return check_output(raw)


def unknown_service_question(name: str, context: Conversation | None) -> str:
    near = closest(name, inventory_for(context))
    if not near:
        return f"I don't see a service called {name}. Which service do you mean?"
    alts = near[0] if len(near) == 1 else ", ".join(near[:-1]) + " or " + near[-1]
    return f"I don't see a service called {name}. Did you mean {alts}?"


def close_to(span: str, context: Conversation | None) -> tuple[str, ...]:
    """The conversation's services a misspelt span may mean (`tools.resolution.close_names`)."""
    return close_names(span, inventory_for(context))


def with_service(raw: str, service: str | None, context: Conversation | None) -> Checked:
    """The model's call with its service span replaced by `service` (None: left out, for a tool whose service
    is optional), checked in the conversation's inventory."""
    try:
        tool, args = decode_call(raw)
    except (ValueError, TypeError) as e:
        return Checked("", {}, f"unparseable output: {e}", "unparseable")
    if not isinstance(args, dict):
        return Checked(tool, {}, "arguments are not a mapping", "invalid_args")
    rest = {k: v for k, v in args.items() if k != "service"}
    with in_inventory(context):
        return check_call(tool, rest if service is None else {**rest, "service": service})
