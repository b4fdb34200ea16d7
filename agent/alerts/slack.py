"""Post an incident's messages to Slack as one thread.

With a bot token and a channel (`slack_bot_token`, `alerts_slack_channel`) the summary goes out with
`chat.postMessage` and later updates reply in its thread (`thread_ts`). With only an incoming webhook
(`slack_webhook_url`) Slack returns no message id, so updates are posted to the same webhook with the
incident id in their header (the webhook's channel is the thread). Neither configured: nothing is posted and
the incident records why.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from agent.summary.blocks import context, cut, escape, header, section
from agent.summary.delivery import deliver

log = logging.getLogger(__name__)


class ThreadPoster:
    def __init__(self, settings: Any) -> None:
        self.token = settings.slack_bot_token.get_secret_value()
        self.channel = settings.alerts_slack_channel
        self.api_url = settings.slack_api_url
        self.webhook = settings.slack_webhook_url.get_secret_value()

    @property
    def configured(self) -> bool:
        return bool((self.token and self.channel) or self.webhook)

    def post(self, message: dict[str, Any], thread: str | None = None) -> dict[str, Any]:
        """Send `message` ({"text", "blocks"}), in `thread` when given; returns {status, thread, via, error}."""
        t0 = time.perf_counter()
        if self.token and self.channel:
            from slack_sdk import WebClient
            from slack_sdk.errors import SlackApiError

            try:
                resp = WebClient(token=self.token, base_url=self.api_url, timeout=10).chat_postMessage(
                    channel=self.channel, text=message["text"], blocks=message.get("blocks"), thread_ts=thread)
                ts = resp.get("ts")
                return {"status": "delivered", "via": "chat.postMessage", "thread": thread or ts, "error": None,
                        "ms": round((time.perf_counter() - t0) * 1000, 1)}
            except (SlackApiError, OSError) as e:
                log.warning("chat.postMessage failed: %s", e)
                return {"status": "failed", "via": "chat.postMessage", "thread": thread, "error": str(e)[:300]}
        if self.webhook:
            d = deliver(self.webhook, message)
            return {"status": d.status, "via": "webhook", "thread": thread, "error": d.error,
                    "attempts": d.attempts, "ms": round(d.elapsed_ms, 1)}
        return {"status": "not_configured", "via": None, "thread": thread,
                "error": "set KEEL_SLACK_WEBHOOK_URL, or KEEL_SLACK_BOT_TOKEN and KEEL_ALERTS_SLACK_CHANNEL"}


def alert_context(incident_id: str, alert_names: list[str], annotations: dict[str, str]) -> list[dict[str, Any]]:
    """Blocks quoting the alert as sent (untrusted text: escaped, cut, shown and never acted on)."""
    names = ", ".join(sorted(set(alert_names))) or "unnamed alert"
    blocks = [context(escape(cut(f"incident {incident_id} · Alertmanager: {names}", 2900)))]
    quoted = "\n".join(f"{k}: {v}" for k, v in list(annotations.items())[:5])
    if quoted:
        blocks.append(context(escape(cut("alert text (as received, not acted on):\n" + quoted, 2900))))
    return blocks


def resolved_message(incident_id: str, title: str, opened_at: float, closed_at: float,
                     root_cause: str | None) -> dict[str, Any]:
    """The short update posted when the alert resolves."""
    minutes = max(0.0, (closed_at - opened_at) / 60)
    cause = f" Root cause named by the investigation: *{escape(root_cause)}*." if root_cause else ""
    text = f"Resolved: {title} (incident {incident_id}) closed after {minutes:.1f} min."
    return {"text": text + (f" Root cause: {root_cause}." if root_cause else ""),
            "blocks": [header(f"Resolved: {title}"),
                       section(f":large_green_circle: The alert resolved; incident `{incident_id}` is closed after "
                               f"{minutes:.1f} min.{cause}")]}
