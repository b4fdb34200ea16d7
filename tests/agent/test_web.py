"""The web chat page in headless Chromium (Debian's /usr/bin/chromium driven by Python playwright):
ask a question that needs approval, approve it as an approver, see the result and the audit trail."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest.importorskip("agent.planner.base", reason="the planner package (agent/planner/base.py) is not in this tree")

from agent.http.app import create_app
from tests.agent.fakes import ScriptedPlanner, make_service
from tests.agent.http_server import serve
from tests.ci import unavailable

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture(autouse=True)
def _chromium() -> None:
    if not CHROMIUM.exists():
        unavailable("Debian chromium is not installed (/usr/bin/chromium)")


def test_ask_needs_approval_approve_and_see_the_result(tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    service, settings = make_service(tmp_path, ScriptedPlanner(), tokens="op-token=operator,appr-token=approver",
                                     step_limit=10)
    with serve(create_app(settings, service)) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1360, "height": 900})
        page.goto(url + "/")
        page.fill("#token", "op-token")
        page.click("#save")
        expect(page.locator("#who")).to_contain_text("(operator)")

        page.fill("#q", "why is checkout slow?")
        page.click("#send")
        expect(page.locator(".assistant").last).to_contain_text("paymentservice", timeout=30_000)
        expect(page.locator(".step .badge.b-logging").first).to_be_visible()

        page.fill("#q", "restart cartservice")
        page.click("#send")
        card = page.locator(".step", has=page.locator(".badge.b-approval"))
        expect(card).to_contain_text("restart_service", timeout=30_000)
        expect(card).to_contain_text("pending approval")
        expect(page.locator(".assistant").last).to_contain_text("needs approval")
        assert page.locator("button.approve").count() == 0  # an operator gets no approve button

        page.fill("#token", "appr-token")
        page.click("#save")
        expect(page.locator("#who")).to_contain_text("(approver)")
        approve = page.locator("#approvals button.approve")
        expect(approve).to_have_count(1)
        approve.click()
        expect(page.locator(".assistant").last).to_contain_text("approved by approver-", timeout=30_000)
        done = page.locator(".step", has=page.locator(".status.s-ok")).filter(has_text="restart_service")
        expect(done).to_contain_text("restarted_replicas")
        expect(page.locator("#approvals")).to_have_text("none", timeout=10_000)
        for kind in ("request", "proposal", "decision", "approval", "action_started", "action_result"):
            expect(page.locator(f"#audit tr[data-kind={kind}]").first).to_be_visible()
        page.click("#verify")
        expect(page.locator("#verified")).to_contain_text("chain valid")
        shot = Path(os.environ.get("KEEL_WEB_SCREENSHOT", tmp_path / "web-chat.png"))
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    restarts = [e for e in service.live.tools.sim.events if e.kind == "restart"]
    assert len(restarts) == 1
