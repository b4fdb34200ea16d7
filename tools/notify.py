"""post_incident_summary: delivers the incident summary to Slack.

The work (findings -> narrative -> Block Kit -> webhook) is in `agent.summary.post`; the composition root puts
it into the tool context's deps (`ctx.deps.post_summary`), so this package does not depend on the agent.
"""

from __future__ import annotations

from tools.backends.base import ToolContext
from tools.contract import PostIncidentSummaryArgs
from tools.envelope import ToolResult


def post_incident_summary(args: PostIncidentSummaryArgs, ctx: ToolContext) -> ToolResult:
    post = ctx.deps.post_summary
    if post is None:
        return ToolResult.fail("post_incident_summary needs the summary poster in the tool context "
                               "(ctx.deps.post_summary = agent.summary.post.post_summary); none is set",
                               code="not_configured")
    return post(args.channel, ctx)
