"""The Slack app over a real AgentService (real gate, SQLite stores, simulator; a scripted planner stands in
for the model): signed requests built here with slack_sdk's SignatureVerifier, replies posted by the app to
a receiver on 127.0.0.1 standing in for Slack's response_url and incoming webhook. No network."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from slack_sdk.signature import SignatureVerifier

pytest.importorskip("agent.planner.base", reason="the planner package is not in this tree")

from agent.http.app import create_app  # noqa: E402
from agent.slack.verify import RequestVerifier, SlackAuthError  # noqa: E402
from tests.agent.fakes import ScriptedPlanner, make_service  # noqa: E402
from tests.agent.runbooks.test_runbook_fixtures import Receiver, receiver  # noqa: E402

__all__ = ["receiver"]

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
OPERATOR, APPROVER, VIEWER = "U0OPERATOR", "U0APPROVER", "U0VIEWER"


def signed(body: bytes | str, ts: int | None = None, secret: str = SECRET) -> dict[str, str]:
    raw = body.encode() if isinstance(body, str) else body
    ts = int(time.time()) if ts is None else ts
    sig = SignatureVerifier(secret).generate_signature(timestamp=str(ts), body=raw)
    return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": str(sig)}


def command_body(text: str, user: str, response_url: str) -> str:
    return urlencode({"command": "/keel", "text": text, "user_id": user, "user_name": "someone",
                      "response_url": response_url, "channel_id": "C0OPS", "team_id": "T0TEAM"})


def action_body(action_id: str, approval_id: str, user: str, response_url: str) -> str:
    payload = {"type": "block_actions", "user": {"id": user}, "response_url": response_url,
               "actions": [{"action_id": action_id, "value": approval_id, "type": "button"}]}
    return urlencode({"payload": json.dumps(payload)})


class Slack:
    def __init__(self, client: TestClient, service: Any, planner: ScriptedPlanner, hook: Receiver) -> None:
        self.client, self.service, self.planner, self.hook = client, service, planner, hook

    def post(self, path: str, body: str, headers: dict[str, str] | None = None, sign: bool = True) -> Any:
        h = {"content-type": "application/json" if path.endswith("events") else "application/x-www-form-urlencoded"}
        if sign:
            h.update(signed(body))
        h.update(headers or {})
        return self.client.post(path, content=body.encode(), headers=h)

    def wait_posts(self, n: int, timeout_s: float = 30.0) -> list[dict[str, Any]]:
        end = time.monotonic() + timeout_s
        while len(self.hook.requests) < n and time.monotonic() < end:
            time.sleep(0.05)
        assert len(self.hook.requests) >= n, f"expected {n} posts, got {len(self.hook.requests)}"
        return self.hook.json_bodies()

    def audit_count(self) -> int:
        return self.service.gate.audit.head()[0]


@pytest.fixture
def slack(tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> Iterator[Slack]:
    monkeypatch.setenv("KEEL_SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("KEEL_SLACK_USERS", f"{OPERATOR}=operator,{APPROVER}=approver,{VIEWER}=viewer")
    monkeypatch.setenv("KEEL_SLACK_WEBHOOK_URL", receiver.url)
    monkeypatch.setenv("KEEL_RUNBOOK_RESUME_POLL_S", "0")
    planner = ScriptedPlanner(delay_s=0.0)
    service, settings = make_service(tmp_path / "home", planner)
    with TestClient(create_app(settings, service)) as client:
        yield Slack(client, service, planner, receiver)


def test_verifier_accepts_slack_signatures_and_rejects_the_rest() -> None:
    now = [1_700_000_000.0]
    v = RequestVerifier(SECRET, now=lambda: now[0])
    body = b"token=x&text=hello"
    good = signed(body, int(now[0]))
    v.verify(body, good)
    cases = [
        ({}, "unsigned"),
        ({"X-Slack-Request-Timestamp": good["X-Slack-Request-Timestamp"]}, "unsigned"),
        (signed(body, int(now[0]) - 301), "stale"),
        (signed(body, int(now[0]) + 301), "stale"),
        (signed(body, int(now[0]), secret="another-secret"), "bad signature"),
        ({**good, "X-Slack-Signature": "v0=" + "0" * 64}, "bad signature"),
        ({**good, "X-Slack-Request-Timestamp": "12ab"}, "integer"),
        (good, "replayed"),
    ]
    for headers, needle in cases:
        with pytest.raises(SlackAuthError, match=needle):
            v.verify(body, headers)
    with pytest.raises(SlackAuthError, match="bad signature"):
        v.verify(body + b"&x=1", signed(body, int(now[0]) + 1))  # tampered body
    v.verify(body, signed(body, int(now[0]) - 299))  # inside the window, new signature
    now[0] += 10_000  # long after: the old pair is forgotten, and its timestamp is stale anyway
    with pytest.raises(SlackAuthError, match="stale"):
        v.verify(body, good)


def test_bad_requests_get_401_and_nothing_runs(slack: Slack) -> None:
    body = command_body("restart cartservice", OPERATOR, slack.hook.url)
    before = slack.audit_count()
    stale = signed(body, int(time.time()) - 600)
    wrong = signed(body, secret="not-the-secret")
    ok = signed(body)
    assert slack.post("/slack/commands", body, sign=False).status_code == 401
    assert slack.post("/slack/commands", body, stale, sign=False).status_code == 401
    assert slack.post("/slack/commands", body, wrong, sign=False).status_code == 401
    assert slack.post("/slack/commands", body + "&x=1", ok, sign=False).status_code == 401
    assert slack.post("/slack/commands", body, ok, sign=False).status_code == 200  # the genuine one runs...
    replay = slack.post("/slack/commands", body, ok, sign=False)
    assert replay.status_code == 401 and "replayed" in replay.json()["error"]["message"]  # ...once
    for path in ("/slack/events", "/slack/actions"):
        assert slack.post(path, "{}", sign=False).status_code == 401
    slack.wait_posts(1)
    time.sleep(0.3)
    assert len(slack.hook.requests) == 1 and slack.planner.calls <= 2  # only the genuine request was handled
    assert slack.audit_count() > before


@pytest.mark.parametrize(("path", "body", "needle"), [
    ("/slack/commands", urlencode({"command": "/keel", "text": "hi", "response_url": "http://x/y"}), "user_id"),
    ("/slack/commands", urlencode({"command": "/keel", "user_id": "U0OPERATOR", "response_url": "ftp://x"}),
     "response_url"),
    ("/slack/commands", "%%%&&&=", "x-www-form-urlencoded"),
    ("/slack/events", "not json", "JSON"),
    ("/slack/events", json.dumps({"type": "url_verification"}), "challenge"),
    ("/slack/events", json.dumps([1, 2]), "JSON object"),
    ("/slack/events", json.dumps({"type": "event_callback"}), "event"),
    ("/slack/actions", "x=1", "payload: required"),
    ("/slack/actions", urlencode({"payload": "{nope"}), "not JSON"),
    ("/slack/actions", urlencode({"payload": json.dumps({"type": "block_actions", "user": {},
                                                          "response_url": "http://x", "actions": []})}), "actions"),
])
def test_malformed_payloads_get_400(slack: Slack, path: str, body: str, needle: str) -> None:
    before = slack.audit_count()
    r = slack.post(path, body)
    assert r.status_code == 400 and needle in r.json()["error"]["message"], r.text
    assert slack.audit_count() == before and slack.planner.calls == 0


def test_url_verification(slack: Slack) -> None:
    r = slack.post("/slack/events", json.dumps({"type": "url_verification", "challenge": "3eZbrw1aBm2rZgRNFdx"}))
    assert r.status_code == 200 and r.json() == {"challenge": "3eZbrw1aBm2rZgRNFdx"}


def test_slash_command_is_acknowledged_at_once_and_answered_later(slack: Slack) -> None:
    slack.planner.delay_s = 0.6  # eight planning steps: the whole turn takes several seconds
    t0 = time.monotonic()
    r = slack.post("/slack/commands", command_body("why is checkout slow?", OPERATOR, slack.hook.url))
    ack_s = time.monotonic() - t0
    assert r.status_code == 200 and r.json()["response_type"] == "ephemeral" and ack_s < 3.0
    assert "Working on it" in r.json()["text"] and not slack.hook.requests
    body = slack.wait_posts(1, timeout_s=60)[0]
    assert time.monotonic() - t0 > ack_s
    assert body["response_type"] == "in_channel" and "paymentservice" in body["text"]
    assert body["blocks"][0]["type"] == "header"


def test_unmapped_user_and_help(slack: Slack) -> None:
    r = slack.post("/slack/commands", command_body("restart cartservice", "U0STRANGER", slack.hook.url))
    assert r.status_code == 200 and "not mapped to a keel role" in r.json()["text"]
    r = slack.post("/slack/commands", command_body("", OPERATOR, slack.hook.url))
    assert "Usage: `/keel <request>`" in r.json()["text"]
    time.sleep(0.2)
    assert slack.planner.calls == 0 and not slack.hook.requests


def _pending_from(body: dict[str, Any]) -> str:
    buttons = [e for b in body["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [b["action_id"] for b in buttons] == ["keel_approve", "keel_deny"]
    assert buttons[0]["value"] == buttons[1]["value"]
    return str(buttons[0]["value"])


def test_approve_button_needs_the_approver_role(slack: Slack) -> None:
    slack.post("/slack/commands", command_body("restart cartservice", OPERATOR, slack.hook.url))
    approval_id = _pending_from(slack.wait_posts(1)[0])
    sim = slack.service.live.tools.sim
    restarts = lambda: [e for e in sim.events if e.kind == "restart"]  # noqa: E731
    for user in (OPERATOR, VIEWER, "U0STRANGER"):
        r = slack.post("/slack/actions", action_body("keel_approve", approval_id, user, slack.hook.url))
        assert r.status_code == 200
    bodies = slack.wait_posts(4)
    assert all("only the approver role may approve" in b["text"] for b in bodies[1:4])
    assert slack.service.gate.approvals.get(approval_id).status == "pending" and not restarts()
    r = slack.post("/slack/actions", action_body("keel_approve", approval_id, APPROVER, slack.hook.url))
    assert r.status_code == 200
    done = slack.wait_posts(5)[4]
    approval = slack.service.gate.approvals.get(approval_id)
    assert approval.status == "approved" and approval.decided_by == f"slack:{APPROVER}"
    assert len(restarts()) == 1 and "approved by slack:U0APPROVER" in done["blocks"][0]["text"]["text"]
    again = slack.post("/slack/actions", action_body("keel_deny", approval_id, APPROVER, slack.hook.url))
    assert again.status_code == 200 and "already approved" in slack.wait_posts(6)[5]["text"]


def test_deny_button(slack: Slack) -> None:
    slack.post("/slack/commands", command_body("rollback paymentservice", OPERATOR, slack.hook.url))
    approval_id = _pending_from(slack.wait_posts(1)[0])
    slack.post("/slack/actions", action_body("keel_deny", approval_id, APPROVER, slack.hook.url))
    slack.wait_posts(2)
    assert slack.service.gate.approvals.get(approval_id).status == "denied"
    assert not [e for e in slack.service.live.tools.sim.events if e.kind == "rollback"]


def test_app_mention_is_answered_once(slack: Slack) -> None:
    event = {"type": "event_callback", "event_id": "Ev0001", "team_id": "T0TEAM",
             "event": {"type": "app_mention", "user": OPERATOR, "text": "<@U0KEELBOT> why is checkout slow?",
                       "channel": "C0OPS", "ts": "1700000000.000100"}}
    body = json.dumps(event)
    assert slack.post("/slack/events", body).json() == {"ok": True}
    retry = {**signed(body, int(time.time()) + 1), "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert slack.post("/slack/events", body, retry, sign=False).json() == {"ok": True}  # same event id, re-signed
    bot = {**event, "event_id": "Ev0002", "event": {**event["event"], "bot_id": "B0ME"}}
    assert slack.post("/slack/events", json.dumps(bot)).status_code == 200
    body = slack.wait_posts(1)[0]
    assert "paymentservice" in body["text"] and "response_type" not in body
    time.sleep(0.5)
    assert len(slack.hook.requests) == 1


def test_app_mention_reply_in_its_thread_with_a_bot_token(slack: Slack, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = slack.client.app.state.settings  # type: ignore[attr-defined]
    monkeypatch.setattr(settings, "slack_bot_token", SecretStr("xoxb-test-token"))
    monkeypatch.setattr(settings, "slack_api_url", slack.hook.url.removesuffix("hook"))
    slack.hook.responses = [(200, {"content-type": "application/json"}, '{"ok": true, "ts": "1.2"}')]
    event = {"type": "event_callback", "event_id": "Ev0009",
             "event": {"type": "app_mention", "user": OPERATOR, "text": "<@U0KEELBOT> why is checkout slow?",
                       "channel": "C0OPS", "ts": "1700000000.000200"}}
    assert slack.post("/slack/events", json.dumps(event)).status_code == 200
    slack.wait_posts(1)
    req = slack.hook.requests[0]
    assert req["path"] == "/chat.postMessage" and req["headers"]["Authorization"] == "Bearer xoxb-test-token"
    sent = json.loads(req["body"])
    assert sent["channel"] == "C0OPS" and sent["thread_ts"] == "1700000000.000200" and "paymentservice" in sent["text"]


def test_runbook_from_slack_pauses_and_the_button_resumes_it(tmp_path: Path, receiver: Receiver,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = tmp_path / "leak.yaml"
    scenario.write_text("seed: 7\nload: {kind: diurnal, peak_rps: 400}\nat: 40m\nfaults:\n"
                        "  - {type: memory_leak, service: cartservice, start: 20m, duration: 200m, intensity: 0.5}\n")
    monkeypatch.setenv("KEEL_SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("KEEL_SLACK_USERS", f"{OPERATOR}=operator,{APPROVER}=approver")
    monkeypatch.setenv("KEEL_SLACK_WEBHOOK_URL", receiver.url)
    monkeypatch.setenv("KEEL_RUNBOOK_RESUME_POLL_S", "0")
    service, settings = make_service(tmp_path / "home", ScriptedPlanner(), scenario)
    with TestClient(create_app(settings, service)) as client:
        s = Slack(client, service, ScriptedPlanner(), receiver)
        r = s.post("/slack/commands", command_body("runbook memory-leak cart dry-run", OPERATOR, receiver.url))
        assert r.status_code == 200
        plan = s.wait_posts(1)[0]
        assert plan["text"] == "dry run of memory-leak" and "restart_service: approval" in json.dumps(plan)
        s.post("/slack/commands", command_body("runbook memory-leak cart", OPERATOR, receiver.url))
        paused = s.wait_posts(2)[1]
        assert "Runbook memory-leak: paused" in json.dumps(paused)
        approval_id = _pending_from(paused)
        s.post("/slack/actions", action_body("keel_approve", approval_id, APPROVER, receiver.url))
        posts = s.wait_posts(4)  # the summary step's webhook post, then the run's outcome
        outcome = [p for p in posts[2:] if p.get("response_type") == "in_channel"][0]
        assert "Runbook memory-leak: succeeded" in json.dumps(outcome)
        assert any(p["blocks"][0]["text"]["text"].startswith("Incident: memory-leak") for p in posts[2:])
        assert not service.live.tools.sim.active_faults()
