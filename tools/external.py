"""Tools from outside the contract (an operator's MCP servers): what they are, how a call is validated and run.

An external tool is named `server.tool`, is a read unless the operator marked it `write` (then the gate rates it
high risk), validates its arguments against the JSON Schema its server published, and returns untrusted text:
the result carries it as data for the reader, and nothing in it is ever parsed into a call. The connection
lives above (`agent.mcp.client`); tools only see the `ExternalTools` protocol on `ToolContext.deps`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import jsonschema
from pydantic import BaseModel, ConfigDict

from tools.contract import ContractError
from tools.envelope import ToolResult

ExternalKind = Literal["read", "write"]
WRITE_RISK: Literal["high"] = "high"  # an operator-marked write tool: a person approves it at every autonomy below full


@dataclass(frozen=True)
class ExternalTool:
    """One tool of an external server as the agent sees it."""

    name: str  # `server.tool`
    server: str
    remote_name: str  # the tool's name on its server
    description: str
    parameters: dict[str, Any] = field(default_factory=dict)  # the server's input JSON Schema
    kind: ExternalKind = "read"


class ExternalCall(BaseModel):
    """A validated call of an external tool (what the gate records and runs)."""

    model_config = ConfigDict(frozen=True)
    tool: str
    args: dict[str, Any]


class ExternalTools(Protocol):
    def get(self, name: str) -> ExternalTool | None: ...

    def tools(self) -> list[ExternalTool]: ...

    def call(self, name: str, args: dict[str, Any]) -> ToolResult: ...


def is_external_name(name: str) -> bool:
    """External tools are `server.tool`; contract tool names never contain a dot."""
    server, dot, tool = name.partition(".")
    return bool(dot and server and tool)


def validate_external(tool: ExternalTool, args: Any) -> ExternalCall:
    """Check `args` against the server's schema; ContractError names the field and what was expected."""
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise ContractError(f"args for {tool.name} must be a JSON object, got {type(args).__name__}")
    schema = tool.parameters or {"type": "object"}
    try:
        jsonschema.validate(args, schema)
    except jsonschema.ValidationError as e:
        where = ".".join(str(p) for p in e.absolute_path) or "args"
        raise ContractError(f"{tool.name}: {where}: {e.message}") from None
    except jsonschema.SchemaError as e:
        raise ContractError(f"{tool.name}: its server published an invalid input schema: {e.message}") from None
    return ExternalCall(tool=tool.name, args=dict(args))
