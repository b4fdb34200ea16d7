"""`/api/conversations/{id}/charts`: the conversation's symptom, root-cause ranking and call graph as SVG.

The numbers are the conversation's tool results, across its turns (LangGraph's checkpoint history). When an
action ran after the last read of the symptom, or there is a ranking but no whole-graph topology, the route makes
that read itself, through the gate as the requesting principal (audited like any read), and says so in `reads`.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, HTTPException

from agent.charts.incident import graph_of, incident_charts, needs_fresh_symptom, ranking_of, symptom_of
from agent.charts.svg import graph_svg, ranking_svg, series_svg
from agent.http.auth import require
from agent.http.deps import get_service
from agent.service import AgentService
from governance.gate import Principal

router = APIRouter(tags=["charts"])


def conversation_steps(service: AgentService, conversation_id: str) -> list[dict[str, Any]]:
    """Every governed step of the conversation, oldest first (each turn's steps from the checkpoints)."""
    snaps = list(service.graph.get_state_history({"configurable": {"thread_id": conversation_id}}))
    if not snaps:
        raise KeyError(conversation_id)
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for snap in reversed(snaps):
        for step in (snap.values or {}).get("steps") or []:
            key = json.dumps(step, sort_keys=True, default=str)
            if key not in seen:
                seen.add(key)
                out.append(step)
    return out


def _read(service: AgentService, principal: Principal, cid: str, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    with service.live.lock:
        result = service.gate.execute(tool, args, service.live.tools, principal,
                                      f"chart of conversation {cid}", conversation_id=cid)
    return {"tool": tool, "args": args, "result": result.to_dict()}


def charts_for(service: AgentService, principal: Principal, cid: str) -> dict[str, Any]:
    steps = conversation_steps(service, cid)
    reads: list[dict[str, Any]] = []
    if needs_fresh_symptom(steps):
        s = symptom_of(steps)
        windows = [st["args"].get("window", "15m") for st in steps if st.get("tool") == "query_metrics"
                   and (st.get("args") or {}).get("service") == s.service  # type: ignore[union-attr]
                   and (st.get("args") or {}).get("metric") == s.metric]  # type: ignore[union-attr]
        reads.append(_read(service, principal, cid, "query_metrics", {
            "service": s.service, "metric": s.metric, "window": windows[-1] if windows else "30m"}))  # type: ignore
    topology = None
    if ranking_of(steps) is not None and graph_of(steps) is None:
        step = _read(service, principal, cid, "get_topology", {})
        reads.append(step)
        if step["result"]["status"] == "ok":
            topology = step["result"]["data"]
    charts = incident_charts(steps + [r for r in reads if r["tool"] == "query_metrics"], topology)
    out: dict[str, Any] = {"conversation_id": cid, "reads": reads, "charts": {}}
    if charts.symptom is not None:
        out["charts"]["symptom"] = {"data": charts.to_dict()["symptom"], "svg": series_svg(charts.symptom)}
    if charts.ranking is not None and charts.ranking.items:
        out["charts"]["ranking"] = {"data": charts.to_dict()["ranking"], "svg": ranking_svg(charts.ranking)}
    if charts.graph is not None:
        out["charts"]["graph"] = {"data": charts.to_dict()["graph"], "svg": graph_svg(charts.graph)}
    return out


@router.get("/api/conversations/{conversation_id}/charts")
def charts(conversation_id: str, principal: Principal = Depends(require("viewer")),
           service: AgentService = Depends(get_service)) -> dict[str, Any]:
    """SVG charts of the conversation's symptom, root-cause ranking and call graph, with the numbers drawn."""
    try:
        return charts_for(service, principal, conversation_id)
    except KeyError:
        raise HTTPException(404, f"unknown conversation {conversation_id!r}") from None
