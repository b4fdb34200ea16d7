"""The agent graph: plan (the planner) -> govern (the gate) -> act -> observe -> back to plan, then respond."""

from agent.graph.events import Event, Reply
from agent.graph.graph import build_graph

__all__ = ["Event", "Reply", "build_graph"]
