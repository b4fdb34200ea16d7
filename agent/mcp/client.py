"""External MCP servers (`[[mcp_servers]]` in keel.toml) as extra tools named `server.tool`.

`McpToolbox.discover()` lists each configured server's tools once (a server that does not answer is reported
and contributes none: keel still starts). `call` opens a session (a stdio server is started for the call, an HTTP
server is reached with its headers), calls the tool within the server's `timeout_s` and returns an envelope whose
data is the tool's text, marked untrusted. That text is shown to people and kept in the audit digest; the planner
only sees `ok`/`error` for it (the generic result view), so nothing a server answers can change what runs.
Governance happens before any of this: the gate treats these tools as reads, or as high-risk writes when the
operator lists them under `write` (`tools.external`).
"""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from functools import partial
from typing import Any, TypeVar

import anyio
import httpx
from mcp import ClientSession, types
from mcp.client.stdio import StdioServerParameters, get_default_environment, stdio_client
from mcp.client.streamable_http import streamable_http_client

from config.settings import McpServerSettings
from tools.envelope import ToolResult
from tools.external import ExternalTool

log = logging.getLogger(__name__)

MAX_TEXT_CHARS = 8000  # what a result keeps of a tool's text
T = TypeVar("T")


class McpToolbox:
    """The tools of the operator's MCP servers, discovered once; implements `tools.external.ExternalTools`."""

    def __init__(self, servers: list[McpServerSettings]) -> None:
        self.servers = {s.name: s for s in servers}
        self._tools: dict[str, ExternalTool] = {}
        self.problems: dict[str, str] = {}  # server -> why it contributed no tools

    def discover(self) -> McpToolbox:
        for server in self.servers.values():
            try:
                listed = _run_sync(partial(_with_session, server, _list_tools), server.timeout_s)
            except Exception as e:
                self.problems[server.name] = f"{type(e).__name__}: {e}"
                log.warning("MCP server %s: no tools (%s)", server.name, self.problems[server.name])
                continue
            unknown = sorted(set(server.write) - {t.name for t in listed})
            if unknown:
                self.problems[server.name] = f"write names tools the server does not list: {', '.join(unknown)}"
                log.warning("MCP server %s: %s", server.name, self.problems[server.name])
            for t in listed:
                name = f"{server.name}.{t.name}"
                self._tools[name] = ExternalTool(
                    name=name, server=server.name, remote_name=t.name, description=(t.description or "")[:300],
                    parameters=dict(t.inputSchema or {"type": "object"}),
                    kind="write" if t.name in server.write else "read")
        return self

    def get(self, name: str) -> ExternalTool | None:
        return self._tools.get(name)

    def tools(self) -> list[ExternalTool]:
        return list(self._tools.values())

    def call(self, name: str, args: dict[str, Any]) -> ToolResult:
        tool = self._tools.get(name)
        if tool is None:
            return ToolResult.fail(f"unknown external tool {name!r}; known: {', '.join(self._tools) or 'none'}",
                                   code="invalid_args")
        server = self.servers[tool.server]

        async def go(session: ClientSession) -> types.CallToolResult:
            return await session.call_tool(tool.remote_name, args)

        try:
            result = _run_sync(lambda: _with_session(server, go), server.timeout_s)
        except TimeoutError:
            return ToolResult.fail(f"MCP server {server.name} did not answer {tool.remote_name} within "
                                   f"{server.timeout_s:g} s", code="timeout")
        except Exception as e:
            return ToolResult.fail(f"MCP server {server.name} failed on {tool.remote_name}: {type(e).__name__}: {e}",
                                   code="backend_unavailable")
        text = untrusted_text(result)
        data = {"server": server.name, "tool": tool.remote_name, "untrusted": True, "text": text}
        if result.isError:
            return ToolResult.fail(f"{name} answered an error: {text[:300]}", data=data, code="backend_unavailable")
        return ToolResult.ok(data)


def untrusted_text(result: types.CallToolResult) -> str:
    """The tool's text content, bounded; other content kinds are named, not passed on."""
    parts: list[str] = []
    for block in result.content:
        if isinstance(block, types.TextContent):
            parts.append(block.text)
        else:
            parts.append(f"[{block.type} content omitted]")
    text = "\n".join(parts)
    return text if len(text) <= MAX_TEXT_CHARS else text[:MAX_TEXT_CHARS] + f"... [{len(text)} chars, cut]"


async def _list_tools(session: ClientSession) -> list[types.Tool]:
    tools: list[types.Tool] = []
    cursor: str | None = None
    while True:
        page = await session.list_tools(cursor=cursor) if cursor else await session.list_tools()
        tools.extend(page.tools)
        cursor = page.nextCursor
        if not cursor:
            return tools


async def _with_session(server: McpServerSettings, use: Callable[[ClientSession], Awaitable[T]]) -> T:
    """Open a session with `server`, initialise it, run `use`, close everything."""
    async with AsyncExitStack() as stack:
        if server.url:
            http = await stack.enter_async_context(httpx.AsyncClient(headers=server.headers,
                                                                     timeout=server.timeout_s))
            read, write, _ = await stack.enter_async_context(streamable_http_client(server.url, http_client=http))
        else:
            params = StdioServerParameters(command=server.command, args=server.args,
                                           env={**get_default_environment(), **server.env})
            read, write = await stack.enter_async_context(stdio_client(params))
        session = await stack.enter_async_context(ClientSession(read, write))
        await session.initialize()
        return await use(session)


def _run_sync(make: Callable[[], Awaitable[T]], timeout_s: float) -> T:
    """Run a coroutine to completion on a fresh event loop in a worker thread (callers may be inside a loop)."""

    async def bounded() -> T:
        with anyio.fail_after(timeout_s):
            return await make()

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(anyio.run, bounded).result()


def attach(tools: Any, servers: list[McpServerSettings]) -> McpToolbox | None:
    """Discover `servers` and put their tools on the tool context's deps (`tools.deps.external`)."""
    if not servers:
        return None
    from dataclasses import replace

    box = McpToolbox(servers).discover()
    tools.deps = replace(tools.deps, external=box)
    return box
