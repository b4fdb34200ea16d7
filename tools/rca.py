"""root_cause_analysis: ranks likely root-cause services (causal/ provides the method)."""

from __future__ import annotations

from tools.backends.base import ToolContext
from tools.contract import RootCauseArgs
from tools.envelope import ToolResult


def root_cause_analysis(args: RootCauseArgs, ctx: ToolContext) -> ToolResult:
    return ToolResult.fail("root_cause_analysis is not available yet")
