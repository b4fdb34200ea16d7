"""The agent graph: plan (the planner) -> govern (the gate) -> act -> observe -> back to plan, then respond.

`agent.graph.graph.build_graph` wires it; events and replies (light, importable anywhere) live here.
"""

from agent.graph.events import Event, Reply

__all__ = ["Event", "Reply"]
