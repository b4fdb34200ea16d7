"""keel's tools as an MCP server (the official `mcp` SDK, low-level `Server`).

Every contract tool is listed with its argument JSON Schema (`tools.contract`); a call goes through the same
`Gate.govern` as the agent's own calls, so a write at autonomy 3 comes back `pending_approval` with the approval
id, a viewer's write is blocked, and the audit log names the MCP principal (`mcp:<name>`). `investigate` runs a
whole agent turn (`AgentService.ask`). The principal comes from a callable: fixed for stdio, the request's bearer
token for streamable HTTP (`agent.mcp.http`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anyio
import mcp.types as types
from mcp.server.lowlevel import Server

from agent.service import AgentService, Busy, ConversationBusy
from governance.gate import Principal
from tools.contract import TOOLS
from tools.envelope import ErrorCode, ToolResult
from tools.errors import InvalidInput

SERVER_NAME = "keel"
INVESTIGATE = "investigate"
APPROVAL_STATUS = "approval_status"
# post_incident_summary summarises a conversation's findings: MCP clients get it through `investigate`
EXPOSED = tuple(n for n in TOOLS if n != "post_incident_summary")
INVESTIGATE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "request": {"type": "string", "minLength": 1, "description": "what to look into, in plain words"},
        "conversation_id": {"type": "string", "description": "continue an earlier conversation (optional)"},
    },
    "required": ["request"],
    "additionalProperties": False,
}

APPROVAL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"approval_id": {"type": "string", "minLength": 1, "description": "from a pending_approval result"}},
    "required": ["approval_id"],
    "additionalProperties": False,
}

PrincipalFn = Callable[[Server[Any, Any]], Principal]


def tool_list() -> list[types.Tool]:
    """The contract tools (schemas from `tools.contract`, services of the live inventory) and `investigate`."""
    out = []
    for name in EXPOSED:
        spec = TOOLS[name]
        kind = "reads only" if spec.kind == "read" else "governed write: may come back pending_approval"
        out.append(types.Tool(name=name, description=f"{spec.description} ({kind})", inputSchema=spec.json_schema(),
                              annotations=types.ToolAnnotations(readOnlyHint=spec.kind == "read",
                                                                destructiveHint=spec.kind == "write")))
    out.append(types.Tool(
        name=APPROVAL_STATUS, inputSchema=APPROVAL_SCHEMA, annotations=types.ToolAnnotations(readOnlyHint=True),
        description="Where a write that came back pending_approval stands: pending, approved (it runs at once; the "
                    "result is included), denied or expired."))
    out.append(types.Tool(
        name=INVESTIGATE, inputSchema=INVESTIGATE_SCHEMA,
        description="Run one keel agent turn on a request: it plans tool calls, runs them through governance and "
                    "answers; writes it plans wait for approval."))
    return out


def call(service: AgentService, principal: Principal, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """One MCP tool call, synchronously: the governed tool's envelope, or the investigate turn's reply."""
    if name == INVESTIGATE:
        return _investigate(service, principal, arguments)
    if name == APPROVAL_STATUS:
        return _approval_status(service, arguments)
    if name not in EXPOSED:
        return ToolResult.fail(f"unknown tool {name!r}; allowed: {', '.join((*EXPOSED, APPROVAL_STATUS, INVESTIGATE))}",
                               code="invalid_args").to_dict()
    ctx = service.live.tools
    if name == "run_runbook" and service.runbooks is not None:
        ctx = service.runbooks.ctx().with_deps(
            runbooks=service.runbooks.engine.bind(principal, {"host": "mcp"}))
    rationale = f"MCP client {principal.name} called {name}"
    if name == "run_runbook":  # the engine locks per step (a run may wait for simulated minutes)
        return service.gate.execute(name, arguments, ctx, principal, rationale).to_dict()
    with service.live.lock:
        return service.gate.execute(name, arguments, ctx, principal, rationale).to_dict()


def _approval_status(service: AgentService, arguments: dict[str, Any]) -> dict[str, Any]:
    approval_id = arguments.get("approval_id")
    approval = service.gate.approvals.get(approval_id) if isinstance(approval_id, str) and approval_id else None
    if approval is None:
        return ToolResult.fail(f"approval_status: no approval {approval_id!r}", code="invalid_args").to_dict()
    if approval.status == "approved" and approval.result is None and approval.run_id is None \
            and approval.conversation_id is None:  # approved where the action cannot run (`keel approvals`)
        with service.live.lock:
            service.gate.run_approved(approval.id, service.live.tools)  # exactly once: the approval is claimed
        approval = service.gate.approvals.get(approval.id) or approval
    return ToolResult.ok(approval.to_dict()).to_dict()


def _investigate(service: AgentService, principal: Principal, arguments: dict[str, Any]) -> dict[str, Any]:
    text = arguments.get("request")
    if not isinstance(text, str) or not text.strip():
        return ToolResult.fail("investigate: request: required (a non-empty string)", code="invalid_args").to_dict()
    cid = arguments.get("conversation_id")
    try:
        reply = service.ask(text, principal, cid if isinstance(cid, str) and cid else None, channel="mcp")
    except (Busy, ConversationBusy, InvalidInput) as e:  # an error result the client can act on, not a crash
        code: ErrorCode = ("invalid_args" if isinstance(e, InvalidInput) else
                           "approval_conflict" if isinstance(e, ConversationBusy) else "backend_unavailable")
        return ToolResult.fail(f"investigate: {e}", code=code).to_dict()
    return ToolResult.ok(reply.to_dict()).to_dict()


def build_server(service: AgentService, principal_of: PrincipalFn) -> Server[Any, Any]:
    """The MCP server over `service`; `principal_of(server)` names who is calling (read inside a request)."""
    server: Server[Any, Any] = Server(SERVER_NAME, instructions="keel: ops tools over your services. Reads run "
                                      "at once; writes pass keel's governance and may wait for a person's approval.")

    @server.list_tools()
    async def _list() -> list[types.Tool]:
        return await anyio.to_thread.run_sync(tool_list)

    # arguments are checked by the contract (precise messages, aliases resolved), not by the listed schema
    @server.call_tool(validate_input=False)
    async def _call(name: str, arguments: dict[str, Any]) -> types.CallToolResult:
        principal = principal_of(server)
        envelope = await anyio.to_thread.run_sync(call, service, principal, name, dict(arguments or {}))
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=json.dumps(envelope, default=str))],
            structuredContent=envelope, isError=envelope.get("status") == "error")

    return server


def fixed_principal(principal: Principal) -> PrincipalFn:
    """The principal of a stdio server: whoever started it, under the role they chose."""
    return lambda _server: principal
