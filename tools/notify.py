"""post_incident_summary: delivers the incident summary to Slack (the work is in agent/summary/post.py)."""

from __future__ import annotations

from tools.backends.base import ToolContext
from tools.contract import PostIncidentSummaryArgs
from tools.envelope import ToolResult


def post_incident_summary(args: PostIncidentSummaryArgs, ctx: ToolContext) -> ToolResult:
    from agent.summary.post import post_summary

    return post_summary(args.channel, ctx)
