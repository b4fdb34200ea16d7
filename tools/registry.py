"""Dispatch a tool call: validate against the contract, run the implementation, always return an envelope.

This runs the tool as asked. Write tools must pass `governance` first: `governance.gate.Gate.execute` decides,
audits and then calls `run_validated`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from tools import actions, health, notify, observe, rca, runbook, scaling
from tools.backends.base import BackendError, ToolContext
from tools.contract import TOOLS, ContractError, validate_call
from tools.envelope import ToolResult
from tools.external import ExternalCall
from tools.services import service_resolution

log = logging.getLogger(__name__)

Impl = Callable[[Any, ToolContext], ToolResult]

IMPLEMENTATIONS: dict[str, Impl] = {
    "query_metrics": observe.query_metrics,
    "search_logs": observe.search_logs,
    "get_topology": observe.get_topology,
    "root_cause_analysis": rca.root_cause_analysis,
    "recommend_scaling": scaling.recommend_scaling,
    "scale_service": actions.scale_service,
    "restart_service": actions.restart_service,
    "rollback_deployment": actions.rollback_deployment,
    "run_runbook": runbook.run_runbook,
    "post_incident_summary": notify.post_incident_summary,
    "check_health": health.check_health,
}
assert set(IMPLEMENTATIONS) == set(TOOLS)


def run_validated(tool: str, args: BaseModel, ctx: ToolContext) -> ToolResult:
    """Run an already-validated call; backend failures become error envelopes naming the backend."""
    if isinstance(args, ExternalCall):  # an operator's MCP tool (validated against its server's schema)
        if ctx.deps.external is None:
            return ToolResult.fail(f"{tool}: no external tool servers are configured", code="not_configured")
        return ctx.deps.external.call(args.tool, dict(args.args))
    try:
        return IMPLEMENTATIONS[tool](args, ctx)
    except BackendError as e:
        return ToolResult.fail(str(e), code=e.code)
    except NotImplementedError as e:
        return ToolResult.fail(f"{tool} is not available on this backend: {e}", code="not_implemented")
    except Exception as e:  # a tool never raises into the agent
        log.exception("tool %s failed", tool)
        return ToolResult.fail(f"{tool} failed: {type(e).__name__}: {e}", code="internal")


def call_tool(tool: str, args: Any, ctx: ToolContext) -> ToolResult:
    """Validate and run. Bad input gives status error with a message naming the field; nothing runs.
    A service name resolved other than exactly is reported in the envelope's `resolved`."""
    try:
        model = validate_call(tool, args)
    except ContractError as e:
        return contract_failure(tool, args, e)
    return with_resolution(run_validated(tool, model, ctx), tool, args)


def contract_failure(tool: str, args: Any, e: ContractError) -> ToolResult:
    """The error envelope of a call that did not validate; a service that did not resolve gets the closest
    names in `data` ({"service", "candidates"})."""
    data = None
    if e.code in ("unknown_service", "ambiguous_service") and tool in TOOLS:
        r = service_resolution(args, for_write=TOOLS[tool].kind == "write")
        if r is not None:
            data = {"service": r.asked, "candidates": list(r.candidates)}
    return ToolResult.fail(str(e), data=data, code=e.code)


def with_resolution(result: ToolResult, tool: str, args: Any) -> ToolResult:
    """`result` saying which service name was used when the asked one resolved by alias, normalising or fuzzily."""
    r = service_resolution(args, for_write=TOOLS[tool].kind == "write") if tool in TOOLS else None
    if r is None or r.name is None or r.how == "exact":
        return result
    return result.model_copy(update={"resolved": {"asked": r.asked, "service": r.name, "how": r.how,
                                                  "score": round(r.score, 1)}})
