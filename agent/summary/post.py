"""post_incident_summary's work: findings from the tool context -> narrative -> Block Kit -> webhook.

The tool context's deps provide the findings (`ctx.deps.incident`: a Findings or its dict, set by the
runbook engine or the agent), optionally the summary model (`ctx.deps.summarizer`, anything with
`summarize(dict) -> str`) and the webhook URL (`ctx.deps.slack_webhook_url`, else the
`slack_webhook_url` setting). The result's data records the delivery (status, attempts), so the gate's
action_result audit record holds it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent.summary.blocks import MAX_BLOCKS, build_message
from agent.summary.delivery import deliver
from agent.summary.findings import Findings, findings_from_dict
from agent.summary.narrative import narrative
from tools.backends.base import ToolContext
from tools.envelope import ToolResult
from tools.results import SummaryPost


def _findings(ctx: ToolContext) -> Findings | None:
    f = ctx.deps.incident
    if isinstance(f, Findings):
        return f
    if isinstance(f, Mapping):
        return findings_from_dict(f)
    return None


def _webhook(ctx: ToolContext) -> str:
    url = ctx.deps.slack_webhook_url
    if url is None:
        from config.settings import get_settings

        url = get_settings().slack_webhook_url.get_secret_value()
    return str(url or "")


def compose(f: Findings, summarizer: Any = None) -> tuple[dict[str, Any], str]:
    """The Slack message for the findings and where its narrative came from (model | template)."""
    text, source = narrative(f, summarizer)
    return build_message(f, text), source


def attach_chart(message: dict[str, Any], f: Findings) -> dict[str, Any] | None:
    """With a bot token (`slack_bot_token`), upload the symptom chart and show it after the narrative and
    status fields; the upload's outcome (None when there is no token or no series)."""
    from config.settings import get_settings

    settings = get_settings()
    token = settings.slack_bot_token.get_secret_value()
    if not token or not f.series or not f.series.get("points"):
        return None
    from agent.charts.png import series_png
    from agent.slack.images import alt_text, image_block, series_from_dict, upload_png

    series = series_from_dict(f.series)
    title = f"{series.service} {series.metric}"
    up = upload_png(series_png(series), title, token, settings.slack_api_url)
    if up.file_id and len(message["blocks"]) < MAX_BLOCKS:
        message["blocks"].insert(3, image_block(up.file_id, title, alt_text(series)))
    return up.to_dict()


def post_summary(channel: str, ctx: ToolContext) -> ToolResult:
    f = _findings(ctx)
    if f is None:
        return ToolResult.fail("post_incident_summary needs the incident's findings in the tool context "
                               "(ctx.deps.incident); run it from a runbook or after an investigation",
                               code="not_configured")
    url = _webhook(ctx)
    if not url:
        return ToolResult.fail("no Slack webhook configured: set KEEL_SLACK_WEBHOOK_URL "
                               "(slack_webhook_url in keel.toml)", code="not_configured")
    message, source = compose(f, ctx.deps.summarizer)
    image = attach_chart(message, f)
    opts = dict(ctx.deps.delivery_options)
    d = deliver(url, message, **opts)
    fields: dict[str, Any] = {"channel": channel, "title": f.title, "status": f.status,
                              "narrative": message["blocks"][1]["text"]["text"], "narrative_source": source,
                              "blocks": len(message["blocks"]), "delivery": d.to_dict()}
    if image:
        fields["image"] = image  # the chart upload's outcome (uploaded with its file id, or why not)
    data = SummaryPost.model_validate(fields)
    if d.status != "delivered":
        return ToolResult.fail(f"incident summary not delivered after {d.attempts} attempt(s): {d.error}", data=data,
                               code="delivery_failed")
    return ToolResult.ok(data)
