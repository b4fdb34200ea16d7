"""`keel mcp`: keel's tools as an MCP server on stdio (for MCP clients that start their servers as processes).

stdout carries the MCP protocol only; everything else goes to stderr. Over HTTP the same server is `/mcp` under
`keel serve` (bearer tokens and roles as the other routes).
"""

from __future__ import annotations

import getpass
import logging
import sys
from pathlib import Path

import typer

from cli.common import TOPOLOGY_HELP

ROLES = ("viewer", "operator", "approver")


def mcp(
    role: str = typer.Option("operator", "--role", help=f"role the MCP client acts under: {', '.join(ROLES)} "
                             "(the gate decides every write; a viewer may only read)"),
    name: str = typer.Option("", "--name", help="principal name in the audit log (default mcp:stdio-<user>)"),
    scenario: Path | None = typer.Option(None, help="scenario file (default: the shipped checkout incident)"),
    planner: str | None = typer.Option(None, help="planner backend for `investigate` (KEEL_PLANNER)"),
    topology: str | None = typer.Option(None, "--topology", help=TOPOLOGY_HELP),
) -> None:
    """Serve keel's tools (reads, governed writes, `investigate`) to an MCP client over stdin/stdout."""
    import anyio
    from mcp.server.stdio import stdio_server

    from agent.composition import build_service
    from agent.mcp.server import build_server, fixed_principal
    from config.settings import get_settings
    from governance.gate import Principal

    if role not in ROLES:
        _fail(f"--role: got {role!r}; allowed: {', '.join(ROLES)}")
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    overrides: dict[str, object] = {}
    if planner is not None:
        overrides["planner"] = planner
    if topology is not None:
        overrides["topology"] = topology
    try:
        service = build_service(get_settings(**overrides), scenario)
    except (ValueError, FileNotFoundError) as e:
        _fail(str(e))
    who = Principal(name=name or f"mcp:stdio-{_user()}", role=role)  # type: ignore[arg-type]
    server = build_server(service, fixed_principal(who))

    async def run() -> None:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    try:
        anyio.run(run)
    finally:
        service.close()


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry (containers): still a named principal
        return "local"


def _fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(2)
