"""post_incident_summary: delivers the incident summary to Slack."""

from __future__ import annotations

from tools.backends.base import ToolContext
from tools.contract import PostIncidentSummaryArgs
from tools.envelope import ToolResult


def post_incident_summary(args: PostIncidentSummaryArgs, ctx: ToolContext) -> ToolResult:
    return ToolResult.fail("post_incident_summary is not available yet")
