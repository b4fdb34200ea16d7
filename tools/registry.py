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
    """Validate and run. Bad input gives status error with a message naming the field; nothing runs."""
    try:
        model = validate_call(tool, args)
    except ContractError as e:
        return ToolResult.fail(str(e), code=e.code)
    return run_validated(tool, model, ctx)
