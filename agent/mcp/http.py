"""`/mcp`: keel's MCP server over streamable HTTP, inside the FastAPI app, behind the same bearer tokens.

`mount(app)` adds the route and runs the SDK's session manager for the app's lifetime. Each request is
authenticated before the SDK sees it (401 without a known token); the principal is `mcp:<role>-<hash>` with the
token's role, so the gate decides and audits an MCP client exactly as it would the same token over /v1.
Stateless mode: every POST is self-contained, so API replicas behind a load balancer need no sticky sessions.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, HTTPException
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from agent.http.auth import authenticate
from agent.mcp.server import build_server
from governance.gate import Principal

PATH = "/mcp"
SCOPE_KEY = "keel.mcp_principal"


def mcp_principal(principal: Principal) -> Principal:
    """The same token's principal, marked as coming in over MCP (what the audit log shows)."""
    return Principal(name=f"mcp:{principal.name}", role=principal.role)


def _principal_of(server: Server[Any, Any]) -> Principal:
    request = server.request_context.request
    scope = getattr(request, "scope", None) or {}
    principal = scope.get(SCOPE_KEY)
    if not isinstance(principal, Principal):  # cannot happen behind `_Authenticated`; never run unowned
        return Principal(name="", role="viewer")
    return principal


class _Authenticated:
    """ASGI: authenticate the bearer token, then hand the request to the SDK's session manager."""

    def __init__(self, new_manager: Any) -> None:
        self.new_manager = new_manager  # the SDK's manager runs once: a new one for each app lifespan
        self.manager: StreamableHTTPSessionManager | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            principal = authenticate(Request(scope))
        except HTTPException as e:
            body = json.dumps({"error": {"message": e.detail, "type": "unauthorized"}}).encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            headers += [(k.lower().encode(), v.encode()) for k, v in (e.headers or {}).items()]
            await send({"type": "http.response.start", "status": e.status_code, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        scope[SCOPE_KEY] = mcp_principal(principal)
        if self.manager is None:  # the app is not running (no lifespan): nothing can serve the session
            body = b'{"error": {"message": "MCP is not running", "type": "unavailable"}}'
            await send({"type": "http.response.start", "status": 503,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": body})
            return
        await self.manager.handle_request(scope, receive, send)


def mount(app: FastAPI) -> None:
    """Serve keel's MCP server at /mcp on `app` (its service and tokens from `app.state`)."""
    server = build_server(app.state.service, _principal_of)
    route = _Authenticated(lambda: StreamableHTTPSessionManager(app=server, stateless=True, json_response=True))
    # an ASGI callable that is not a function is served as an app (the route passes scope, receive, send)
    app.add_route(PATH, route, methods=["GET", "POST", "DELETE"],  # type: ignore[arg-type]
                  include_in_schema=False)
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(a: Any) -> AsyncIterator[Any]:
        route.manager = route.new_manager()
        try:
            async with route.manager.run(), inner(a) as state:
                yield state
        finally:
            route.manager = None

    app.router.lifespan_context = lifespan
