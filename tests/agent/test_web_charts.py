"""The web chat's charts in headless Chromium: the symptom series, the root-cause ranking and the call graph are
drawn from the tool results' numbers (positions inverted back to values), and an approved action appears on the
symptom chart. `KEEL_DOCS_SCREENSHOTS=docs` also writes docs/web-charts.png."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.http.app import create_app
from agent.planner.base import PlannedCall, Step
from tests.agent.fakes import call, make_service
from tests.agent.http_server import serve
from tests.agent.test_web import ARGS, CHROMIUM
from tests.ci import unavailable


class IncidentPlanner:
    """Investigate (ranking, then the symptom's p99) or restart the named service; then answer."""

    name = "incident-script"

    def plan(self, request: str, history: Sequence[Step] = (), context: object = None) -> PlannedCall:
        if "restart" in request:
            return call("restart_service", {"service": "paymentservice"}) if not history else call(
                "respond", {"text": "restarted"})
        script = [call("root_cause_analysis", {}),
                  call("query_metrics", {"service": "frontend", "metric": "latency_p99", "window": "30m"})]
        return script[len(history)] if len(history) < len(script) else call("respond", {"text": "paymentservice"})

    def summarize(self, findings: dict[str, Any]) -> str:
        return ""


@pytest.fixture(autouse=True)
def _chromium() -> None:
    if not CHROMIUM.exists():
        unavailable("Debian chromium is not installed (/usr/bin/chromium)")


def _attrs(page: Any, selector: str, names: Sequence[str]) -> list[dict[str, str]]:
    return page.eval_on_selector_all(selector, "(els, names) => els.map(e => Object.fromEntries("
                                     "names.map(n => [n, e.getAttribute(n)])))", list(names))


def test_charts_are_drawn_from_the_tool_numbers(tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    service, settings = make_service(tmp_path, IncidentPlanner(), tokens="op-token=operator,appr-token=approver")
    with serve(create_app(settings, service)) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1360, "height": 1000})
        page.goto(url + "/")
        page.fill("#token", "op-token")
        page.click("#save")
        page.fill("#q", "why is checkout slow?")
        page.click("#send")
        expect(page.locator(".assistant").last).to_contain_text("paymentservice", timeout=30_000)
        expect(page.locator("#charts .chart-graph")).to_be_visible(timeout=15_000)

        cid = page.evaluate("conversation")
        steps = httpx.get(f"{url}/api/conversations/{cid}", headers={"Authorization": "Bearer op-token"}
                          ).json()["current"]["steps"]
        rca = next(s["result"]["data"] for s in steps if s["tool"] == "root_cause_analysis")
        series = next(s["result"]["data"] for s in steps if s["tool"] == "query_metrics")

        # symptom: one point per value, at the height the value gives on the chart's own scale
        svg = _attrs(page, "#charts .chart-series", ["data-y1", "data-top", "data-bottom", "height", "data-service"])[0]
        assert svg["data-service"] == series["service"] == rca["symptom"]
        y1, top, bottom, height = (float(svg[k]) for k in ("data-y1", "data-top", "data-bottom", "height"))
        drawn = _attrs(page, "#charts .chart-series circle.point", ["data-ts", "data-value", "cy"])
        assert [(d["data-ts"], float(d["data-value"])) for d in drawn] == [tuple(pt) for pt in series["points"]]
        for d, (_, value) in zip(drawn, series["points"], strict=True):
            shown = (1 - (float(d["cy"]) - top) / (height - top - bottom)) * y1
            assert shown == pytest.approx(value, abs=y1 / 200)
        onset = _attrs(page, "#charts .chart-series .marker-onset", ["data-ts"])
        assert onset == [{"data-ts": rca["onset"]}]

        # ranking: bars in the tool's order, lengths proportional to its scores
        bars = _attrs(page, "#charts .chart-ranking g.bar", ["data-service", "data-score"])
        assert [(b["data-service"], float(b["data-score"])) for b in bars] == [
            (c["service"], c["score"]) for c in rca["ranking"][:8]]
        widths = page.eval_on_selector_all("#charts .chart-ranking g.bar rect",
                                           "els => els.map(e => e.getBBox().width)")
        top_score = rca["ranking"][0]["score"]
        for w, c in zip(widths, rca["ranking"], strict=False):
            assert w / widths[0] == pytest.approx(c["score"] / top_score, rel=0.01)

        # call graph: the culprit is the ranking's top candidate, highlighted; its evidence path is drawn bold
        culprit = page.locator("#charts .chart-graph g.node.culprit")
        expect(culprit).to_have_count(1)
        assert culprit.get_attribute("data-service") == rca["ranking"][0]["service"] == "paymentservice"
        assert culprit.locator("rect").get_attribute("stroke") == "#dc2626"
        path = rca["ranking"][0]["path"]
        on_path = _attrs(page, "#charts .chart-graph line.on-path", ["data-caller", "data-callee"])
        assert {(e["data-caller"], e["data-callee"]) for e in on_path} == set(zip(path, path[1:], strict=False))

        # an approved restart shows on the symptom chart; the after comes from a fresh governed read
        page.fill("#q", "restart paymentservice")
        page.click("#send")
        expect(page.locator(".assistant").last).to_contain_text("needs approval", timeout=30_000)
        page.fill("#token", "appr-token")
        page.click("#save")
        expect(page.locator("#who")).to_contain_text("(approver)")
        page.locator("#approvals button.approve").click()
        expect(page.locator(".assistant").last).to_contain_text("approved by approver-", timeout=30_000)
        with service.live.lock:
            service.live.tools.sim.step(10)  # ten simulated minutes pass after the restart
        page.reload()
        action = page.locator("#charts .chart-series .marker-action")
        expect(action).to_have_count(1, timeout=15_000)
        assert action.get_attribute("data-label") == "restart_service paymentservice"
        expect(page.locator("#charts-note")).to_contain_text("query_metrics")
        after = _attrs(page, "#charts .chart-series circle.point", ["data-ts"])
        assert after[-1]["data-ts"] > drawn[-1]["data-ts"]  # points after the action are drawn

        shots = os.environ.get("KEEL_DOCS_SCREENSHOTS")
        if shots:
            page.locator("#charts-box").screenshot(path=str(Path(shots) / "web-charts.png"))
            page.screenshot(path=str(Path(shots) / "web-chat-charts.png"), full_page=True)
        browser.close()
