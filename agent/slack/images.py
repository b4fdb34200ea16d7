"""The symptom chart in Slack summaries: a PNG uploaded with the bot token, shown by an image block.

`slack_sdk`'s `files_upload_v2` (files.getUploadURLExternal, the upload, files.completeUploadExternal) stores
the PNG; the summary's image block points at it by `slack_file.id`, so the webhook message needs no public URL.
Without a bot token nothing is uploaded and the summary is text only. An upload failure never stops the summary:
it is posted without the image and the result says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from agent.charts.incident import Marker, SymptomSeries

MAX_ALT = 2000  # Slack's alt_text limit


@dataclass
class Upload:
    status: str  # uploaded | failed | skipped
    file_id: str | None = None
    error: str | None = None
    bytes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def series_from_dict(d: dict[str, Any]) -> SymptomSeries:
    return SymptomSeries(service=d["service"], metric=d["metric"], unit=d.get("unit", ""),
                         points=[(str(t), float(v)) for t, v in d["points"]],
                         markers=[Marker(**m) for m in d.get("markers") or []])


def alt_text(s: SymptomSeries) -> str:
    """What the chart shows, in words (screen readers, clients that do not load images)."""
    vals = [v for _, v in s.points]
    marks = "; ".join(f"{m.label} at {m.ts[11:16]}" for m in s.markers)
    text = (f"{s.service} {s.metric} from {s.points[0][0][11:16]} to {s.points[-1][0][11:16]}: "
            f"start {vals[0]:g}, max {max(vals):g}, last {vals[-1]:g} {s.unit}" + (f"; {marks}" if marks else ""))
    return text[:MAX_ALT]


def upload_png(png: bytes, title: str, token: str, api_url: str = "https://slack.com/api/",
               client: WebClient | None = None) -> Upload:
    """Upload `png` with the bot token; the file id for an image block, or why not."""
    web = client or WebClient(token=token, base_url=api_url, timeout=15)
    try:
        resp = web.files_upload_v2(content=png, filename="symptom.png", title=title)
    except SlackApiError as e:
        return Upload("failed", error=f"Slack API: {e.response.get('error', e)}", bytes=len(png))
    except Exception as e:  # connection refused, timeout: the summary goes out without the image
        return Upload("failed", error=f"{type(e).__name__}: {e}", bytes=len(png))
    file = resp.get("file") or (resp.get("files") or [{}])[0]
    if not file.get("id"):
        return Upload("failed", error="Slack answered without a file id", bytes=len(png))
    return Upload("uploaded", file_id=str(file["id"]), bytes=len(png))


def image_block(file_id: str, title: str, alt: str) -> dict[str, Any]:
    return {"type": "image", "slack_file": {"id": file_id}, "alt_text": alt[:MAX_ALT],
            "title": {"type": "plain_text", "text": title[:2000]}}
