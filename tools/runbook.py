"""run_runbook: executes a named runbook, each step governed (the runbook engine lives in agent/)."""

from __future__ import annotations

from tools.backends.base import ToolContext
from tools.contract import RunRunbookArgs
from tools.envelope import ToolResult


def run_runbook(args: RunRunbookArgs, ctx: ToolContext) -> ToolResult:
    return ToolResult.fail("run_runbook is not available yet")
