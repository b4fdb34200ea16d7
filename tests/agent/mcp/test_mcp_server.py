"""keel as an MCP server, driven by the SDK's own client: over stdio (`keel mcp`) and streamable HTTP (`/mcp`).

Each transport: list the tools, run a read, run a write that comes back pending approval (autonomy 3) with its
approval id, and find the MCP principal in the audit log.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, get_default_environment, stdio_client
from mcp.client.streamable_http import streamable_http_client

from agent.http.app import create_app
from governance.audit import SqliteAuditStore
from tests.agent.fakes import ScriptedPlanner, call, make_service
from tests.agent.http_server import serve

ROOT = Path(__file__).resolve().parents[3]


def _envelope(result: Any) -> dict[str, Any]:
    assert result.structuredContent is not None, result
    assert json.loads(result.content[0].text) == result.structuredContent
    return dict(result.structuredContent)


async def _exercise(session: ClientSession) -> dict[str, Any]:
    await session.initialize()
    names = {t.name: t for t in (await session.list_tools()).tools}
    read = _envelope(await session.call_tool("query_metrics", {"service": "paymentservice",
                                                                "metric": "latency_p99", "window": "10m"}))
    write = _envelope(await session.call_tool("restart_service", {"service": "cartservice"}))
    bad = await session.call_tool("query_metrics", {"service": "paymentservice", "metric": "latency"})
    return {"names": names, "read": read, "write": write, "bad": bad}


def _check(out: dict[str, Any]) -> str:
    names = out["names"]
    assert {"query_metrics", "search_logs", "root_cause_analysis", "restart_service", "scale_service",
            "investigate", "approval_status"} <= set(names)
    schema = names["query_metrics"].inputSchema
    assert "latency_p99" in schema["properties"]["metric"]["enum"]  # the contract's schema, not a hand-written one
    assert "paymentservice" in schema["properties"]["service"]["enum"]  # the live inventory's names
    assert names["query_metrics"].annotations.readOnlyHint is True
    assert names["restart_service"].annotations.readOnlyHint is False

    read = out["read"]
    assert read["status"] == "ok"
    points = read["data"]["points"]
    assert len(points) >= 5 and all(isinstance(ts, str) and value > 0 for ts, value in points)

    write = out["write"]
    assert write["status"] == "pending_approval", write
    assert write["data"]["tool"] == "restart_service" and write["data"]["risk"] == "high"
    approval_id = write["data"]["approval_id"]
    assert len(approval_id) >= 16

    bad = out["bad"]
    assert bad.isError and "allowed" in bad.content[0].text and "latency_p99" in bad.content[0].text
    return str(approval_id)


def _audit_actors(db: Path, approval_id: str) -> dict[str, str]:
    store = SqliteAuditStore(db)
    return {r.kind: r.actor for r in store.records_for_action(approval_id)}


def test_stdio_keel_mcp(tmp_path: Path) -> None:
    env = {**get_default_environment(), **{k: v for k, v in os.environ.items() if k.startswith(("PYTHON", "CI"))},
           "KEEL_HOME": str(tmp_path), "KEEL_PLANNER": "keyword", "KEEL_AUTONOMY": "3"}
    params = StdioServerParameters(command=sys.executable, args=["-m", "cli.main", "mcp", "--name", "mcp:ide-alice"],
                                   env=env, cwd=str(tmp_path))

    async def go() -> dict[str, Any]:
        with anyio.fail_after(600):  # a cold start (imports, simulator, planner) on a busy machine
            async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
                return await _exercise(session)

    out = anyio.run(go)
    approval_id = _check(out)
    actors = _audit_actors(tmp_path / "audit.db", approval_id)
    assert actors == {"proposal": "mcp:ide-alice", "decision": "mcp:ide-alice"}


@pytest.fixture
def http_app(tmp_path: Path) -> Any:
    planner = ScriptedPlanner([call("root_cause_analysis", {"service": "frontend"})])
    service, settings = make_service(tmp_path, planner,
                                     tokens="op-token=operator,view-token=viewer,appr-token=approver")
    yield create_app(settings, service), settings, service
    service.close()


def test_streamable_http_mcp_with_tokens_and_roles(http_app: Any) -> None:
    app, settings, service = http_app

    async def session_run(url: str, token: str, body: Any) -> Any:
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http, \
                streamable_http_client(url + "/mcp", http_client=http) as (read, write, _), \
                ClientSession(read, write) as session:
            return await body(session)

    async def viewer_write(session: ClientSession) -> dict[str, Any]:
        await session.initialize()
        return _envelope(await session.call_tool("restart_service", {"service": "cartservice"}))

    async def investigate(session: ClientSession) -> dict[str, Any]:
        await session.initialize()
        return _envelope(await session.call_tool("investigate", {"request": "checkout is slow, why?"}))

    with serve(app) as url:
        assert httpx.post(url + "/mcp", json={}).status_code == 401
        assert httpx.post(url + "/mcp", json={}, headers={"Authorization": "Bearer nope"}).status_code == 401
        out = anyio.run(session_run, url, "op-token", _exercise)
        viewer = anyio.run(session_run, url, "view-token", viewer_write)
        turn = anyio.run(session_run, url, "op-token", investigate)
        approval_id = _check(out)

        async def status(session: ClientSession) -> dict[str, Any]:
            await session.initialize()
            return _envelope(await session.call_tool("approval_status", {"approval_id": approval_id}))

        before = anyio.run(session_run, url, "op-token", status)
        decided = httpx.post(f"{url}/api/approvals/{approval_id}/approve", json={},
                             headers={"Authorization": "Bearer appr-token"})
        after = anyio.run(session_run, url, "op-token", status)

    actors = _audit_actors(settings.audit_db_path(), approval_id)
    assert {"proposal", "decision", "approval", "action_started", "action_result"} <= set(actors)
    assert actors["proposal"].startswith("mcp:operator-") and actors["approval"].startswith("approver-")
    # the approver's decision runs the MCP client's write once; the client sees the outcome
    assert before["data"]["status"] == "pending"
    assert decided.status_code == 200, decided.text
    assert after["data"]["status"] == "approved" and after["data"]["result"]["status"] == "ok"
    assert after["data"]["result"]["data"]["service"] == "cartservice"
    assert len([e for e in service.live.tools.sim.events if e.kind == "restart"]) == 1
    assert viewer["status"] == "denied" and "may only read" in viewer["error"]
    assert turn["status"] == "ok" and turn["data"]["status"] == "answered"
    assert [s["tool"] for s in turn["data"]["steps"]] == ["root_cause_analysis"]
    assert "paymentservice" in turn["data"]["text"]


def test_keel_mcp_rejects_an_unknown_role() -> None:
    from typer.testing import CliRunner

    from cli.main import app

    out = CliRunner().invoke(app, ["mcp", "--role", "admin"])
    assert out.exit_code == 2
    assert "--role: got 'admin'; allowed: viewer, operator, approver" in out.output


def test_approved_elsewhere_runs_when_the_client_asks(tmp_path: Path) -> None:
    """Approved in the gate only (as `keel approvals approve` does, outside the server): the action runs once, when
    the MCP client asks approval_status."""
    from agent.mcp.server import call as mcp_call
    from governance.gate import Principal

    service, _ = make_service(tmp_path, ScriptedPlanner())
    try:
        who = Principal("mcp:ide-alice", "operator")
        pending = mcp_call(service, who, "restart_service", {"service": "cartservice"})
        approval_id = pending["data"]["approval_id"]
        service.gate.approve(approval_id, Principal("approver-bob", "approver"))
        first = mcp_call(service, who, "approval_status", {"approval_id": approval_id})
        again = mcp_call(service, who, "approval_status", {"approval_id": approval_id})
        assert first["data"]["result"]["status"] == "ok" and again["data"]["result"] == first["data"]["result"]
        assert len([e for e in service.live.tools.sim.events if e.kind == "restart"]) == 1
        unknown = mcp_call(service, who, "approval_status", {"approval_id": "nope"})
        assert unknown["status"] == "error" and "no approval 'nope'" in unknown["error"]
    finally:
        service.close()
