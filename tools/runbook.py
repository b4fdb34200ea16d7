"""run_runbook: executes a named runbook, each step governed (the engine lives in agent/runbooks/).

The host puts the engine, bound to the calling principal, into `ctx.deps.runbooks`
(`RunbookEngine.bind(principal)`); without it the tool says what is missing and nothing runs.
"""

from __future__ import annotations

from tools.backends.base import ToolContext
from tools.contract import RunRunbookArgs
from tools.envelope import ToolResult


def run_runbook(args: RunRunbookArgs, ctx: ToolContext) -> ToolResult:
    bound = ctx.deps.runbooks
    if bound is None:
        return ToolResult.fail("run_runbook needs the runbook engine bound to the calling principal in the tool "
                               "context (ctx.deps.runbooks = RunbookEngine.bind(principal)); none is set",
                               code="not_configured")
    return bound.run(args.name, args.service, ctx)
