"""Wire the nodes into a LangGraph StateGraph and compile it with a checkpointer."""

from __future__ import annotations

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agent.graph import routing
from agent.graph.nodes import Nodes
from agent.graph.state import AgentState


def build_graph(nodes: Nodes, checkpointer: BaseCheckpointSaver) -> CompiledStateGraph:
    """plan -> govern -> (await_approval -> act)* -> observe -> plan ... -> respond (act loops back to
    await_approval when a runbook it resumed pauses on another step)."""
    g = StateGraph(AgentState)
    g.add_node("plan", nodes.plan)
    g.add_node("govern", nodes.govern)
    g.add_node("await_approval", nodes.await_approval)
    g.add_node("act", nodes.act)
    g.add_node("observe", nodes.observe)
    g.add_node("respond", nodes.respond)
    g.add_edge(START, "plan")
    g.add_conditional_edges("plan", routing.after_plan, ["govern", "respond"])
    g.add_conditional_edges("govern", routing.after_govern, ["await_approval", "observe"])
    g.add_conditional_edges("await_approval", routing.after_approval, ["act", "observe"])
    g.add_conditional_edges("act", routing.after_act, ["await_approval", "observe"])
    g.add_edge("observe", "plan")
    g.add_edge("respond", END)
    return g.compile(checkpointer=checkpointer)
