"""The symptom chart in Slack summaries: with a bot token the PNG goes up through slack_sdk's files_upload_v2 (a
local stand-in for the Slack Web API answers) and the webhook message carries an image block pointing at it;
without a token the summary is text only; a failed upload still posts the summary.

`KEEL_DOCS_SCREENSHOTS=docs` also writes the message's Block Kit JSON, the uploaded PNG and a local rendering
(headless Chromium) under docs/."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from agent.summary.findings import findings_from_agent_steps
from agent.summary.post import post_summary
from agent.summary.preview import render_html
from governance.gate import Principal
from tests.agent.fakes import ScriptedPlanner, make_service
from tests.agent.http_server import serve

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FILE_ID = "F0CHART42"


class FakeSlack:
    """files.getUploadURLExternal, the upload URL, files.completeUploadExternal and an incoming webhook."""

    def __init__(self, fail_upload: bool = False) -> None:
        self.uploads: list[bytes] = []
        self.completed: list[dict[str, Any]] = []
        self.posts: list[dict[str, Any]] = []
        self.auth: list[str] = []
        self.app = FastAPI()
        self.base = ""

        @self.app.post("/api/files.getUploadURLExternal")
        async def get_url(request: Request) -> JSONResponse:
            self.auth.append(request.headers.get("authorization", ""))
            if fail_upload:
                return JSONResponse({"ok": False, "error": "missing_scope"})
            return JSONResponse({"ok": True, "upload_url": f"{self.base}/upload/{FILE_ID}", "file_id": FILE_ID})

        @self.app.post("/upload/{fid}")
        async def upload(fid: str, request: Request) -> PlainTextResponse:
            self.uploads.append(await request.body())
            return PlainTextResponse("OK - 1")

        @self.app.post("/api/files.completeUploadExternal")
        async def complete(request: Request) -> JSONResponse:
            form = dict(await request.form()) if "form" in request.headers.get("content-type", "") else \
                await request.json()
            self.completed.append({k: str(v) for k, v in form.items()})
            return JSONResponse({"ok": True, "files": [{"id": FILE_ID, "title": "chart"}]})

        @self.app.post("/hooks/T1/B1/x")
        async def hook(request: Request) -> PlainTextResponse:
            self.posts.append(await request.json())
            return PlainTextResponse("ok")


@pytest.fixture
def incident(tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    service, _ = make_service(tmp_path, ScriptedPlanner())
    ctx, who = service.live.tools, Principal("operator-alice", "operator")
    steps = []
    for tool, args in (("root_cause_analysis", {}),
                       ("query_metrics", {"service": "frontend", "metric": "latency_p99", "window": "30m"})):
        steps.append({"tool": tool, "args": args, "result": service.gate.execute(tool, args, ctx, who, "t").to_dict()})
    yield findings_from_agent_steps("checkout is slow", steps, "c-chart"), steps
    service.close()


def _post(findings: Any, slack: FakeSlack, url: str, tmp_path: Path) -> Any:
    from tools.backends.base import ToolContext, ToolDeps

    ctx = ToolContext(metrics=None, logs=None, topology=None, actions=None,  # type: ignore[arg-type]
                      deps=ToolDeps(incident=findings, slack_webhook_url=f"{url}/hooks/T1/B1/x",
                                    delivery_options={"attempts": 1}))
    return post_summary("#incidents", ctx)


def test_summary_carries_the_symptom_chart(incident: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    findings, steps = incident
    series = next(s["result"]["data"] for s in steps if s["tool"] == "query_metrics")
    assert [tuple(p) for p in findings.series["points"]] == [tuple(p) for p in series["points"]]
    assert findings.series["markers"][0] == {"ts": steps[0]["result"]["data"]["onset"], "label": "onset",
                                             "kind": "onset"}
    assert "points" not in findings.text()  # the narrative is checked against the findings, not the chart
    slack = FakeSlack()
    with serve(slack.app) as url:
        slack.base = url
        monkeypatch.setenv("KEEL_SLACK_BOT_TOKEN", "xoxb-test-token")
        monkeypatch.setenv("KEEL_SLACK_API_URL", url + "/api/")
        result = _post(findings, slack, url, tmp_path)
    assert result.status == "ok", result
    assert result.data["image"] == {"status": "uploaded", "file_id": FILE_ID, "bytes": len(slack.uploads[0])}
    assert slack.auth == ["Bearer xoxb-test-token"]
    assert slack.uploads[0].startswith(PNG_MAGIC) and len(slack.uploads[0]) > 5000
    blocks = slack.posts[0]["blocks"]
    image = blocks[3]
    assert image["type"] == "image" and image["slack_file"] == {"id": FILE_ID}
    values = [v for _, v in series["points"]]
    assert f"max {max(values):g}" in image["alt_text"] and f"last {values[-1]:g}" in image["alt_text"]
    assert len(blocks) <= 50

    page = render_html(slack.posts[0], {FILE_ID: slack.uploads[0]})
    assert f'data-file-id="{FILE_ID}"' in page and "data:image/png;base64," in page
    shots = os.environ.get("KEEL_DOCS_SCREENSHOTS")
    if shots:
        out = Path(shots)
        (out / "slack-summary.json").write_text(json.dumps(slack.posts[0], indent=2) + "\n")
        (out / "slack-summary-chart.png").write_bytes(slack.uploads[0])
        html_path = tmp_path / "slack.html"
        html_path.write_text(page)
        from playwright.sync_api import sync_playwright

        from tests.agent.test_web import ARGS, CHROMIUM

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            tab = browser.new_page(viewport={"width": 780, "height": 900})
            tab.goto(html_path.as_uri())
            tab.locator(".msg").screenshot(path=str(out / "slack-summary.png"))
            browser.close()


def test_no_bot_token_no_image(incident: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    findings, _ = incident
    slack = FakeSlack()
    monkeypatch.setenv("KEEL_SLACK_BOT_TOKEN", "")
    with serve(slack.app) as url:
        slack.base = url
        result = _post(findings, slack, url, tmp_path)
    assert result.status == "ok" and "image" not in result.data
    assert slack.uploads == [] and slack.auth == []
    assert not [b for b in slack.posts[0]["blocks"] if b["type"] == "image"]


def test_failed_upload_still_posts_the_summary(incident: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    findings, _ = incident
    slack = FakeSlack(fail_upload=True)
    with serve(slack.app) as url:
        slack.base = url
        monkeypatch.setenv("KEEL_SLACK_BOT_TOKEN", "xoxb-test-token")
        monkeypatch.setenv("KEEL_SLACK_API_URL", url + "/api/")
        result = _post(findings, slack, url, tmp_path)
    assert result.status == "ok"
    assert result.data["image"]["status"] == "failed" and "missing_scope" in result.data["image"]["error"]
    assert len(slack.posts) == 1 and not [b for b in slack.posts[0]["blocks"] if b["type"] == "image"]
