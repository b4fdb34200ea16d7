"""`POST /api/alerts/alertmanager` over HTTP: auth (bearer and basic), field errors, dedup, the investigation
as principal alertmanager, the Slack summary with approval buttons, the resolve update, `/api/incidents`."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from agent.http.app import create_app
from agent.planner.keyword import KeywordPlanner
from tests.agent.fakes import PAYMENT, ScriptedPlanner, call, make_service
from tests.alerts.fake_slack import FakeSlack, fake_slack
from tests.alerts.payloads import alert, webhook

TOKENS = "op-token=operator,view-token=viewer,appr-token=approver"
OP = {"Authorization": "Bearer op-token"}
VIEW = {"Authorization": "Bearer view-token"}
ROUTE = "/api/alerts/alertmanager"
LATENCY = {"alertname": "CheckoutLatencyHigh", "service": "checkoutservice", "severity": "page"}


def basic(password: str, user: str = "alertmanager") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture()
def slack() -> Iterator[FakeSlack]:
    with fake_slack() as s:
        yield s


def client_for(tmp_path: Path, slack: FakeSlack, planner: object, **settings: object) -> TestClient:
    service, s = make_service(tmp_path, planner, PAYMENT, tokens=TOKENS)
    s = s.model_copy(update={"slack_webhook_url": SecretStr(slack.webhook), **settings})
    return TestClient(create_app(s, service))


def test_auth_bearer_or_basic_operator_or_above(tmp_path: Path, slack: FakeSlack) -> None:
    with client_for(tmp_path, slack, KeywordPlanner()) as c:
        body = webhook("g-auth", [alert("a1", {"alertname": "Whatever"})])
        assert c.post(ROUTE, json=body).status_code == 401
        assert c.post(ROUTE, json=body, headers=VIEW).status_code == 403
        assert c.post(ROUTE, json=body, headers=basic("view-token")).status_code == 403
        assert c.post(ROUTE, json=body, headers=basic("wrong")).status_code == 401
        bad = c.post(ROUTE, json=body, headers={"Authorization": "Basic %%%"})
        assert bad.status_code == 401 and "basic" in bad.json()["error"]["message"]
        assert c.post(ROUTE, json=body, headers=basic("op-token")).status_code == 202
        assert c.post(ROUTE, json=body, headers={"Authorization": "Bearer appr-token"}).status_code == 202


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda b: b.pop("groupKey"), "groupKey"),
    (lambda b: b.update(status="burning"), "status"),
    (lambda b: b["alerts"][0].update(startsAt="yesterday"), "alerts.0.startsAt"),
    (lambda b: b["alerts"][0].pop("fingerprint"), "alerts.0.fingerprint"),
    (lambda b: b["alerts"][0].update(labels={"service": 3}), "alerts.0.labels.service"),
    (lambda b: b.update(alerts=[]), "alerts"),
])
def test_bad_payload_names_the_field_and_changes_nothing(tmp_path: Path, slack: FakeSlack, mutate, field) -> None:
    with client_for(tmp_path, slack, KeywordPlanner()) as c:
        body = webhook("g-bad", [alert("a1", LATENCY)])
        mutate(body)
        r = c.post(ROUTE, json=body, headers=OP)
        assert r.status_code == 400, r.text
        assert r.json()["error"]["param"] == field, r.json()
        assert c.get("/api/incidents", headers=VIEW).json()["incidents"] == {"open": [], "recent": []}


def test_firing_opens_one_incident_investigates_posts_and_resolve_closes_the_thread(
        tmp_path: Path, slack: FakeSlack) -> None:
    with client_for(tmp_path, slack, KeywordPlanner()) as c:
        service = c.app.state.service
        first = c.post(ROUTE, json=webhook("g1", [alert("fp1", LATENCY)]), headers=OP).json()
        assert first["action"] == "opened" and first["services"] == ["checkoutservice"]
        # Alertmanager re-sends the group (repeat_interval, a new alert in the group): no second investigation
        again = c.post(ROUTE, json=webhook("g1", [alert("fp1", LATENCY), alert("fp2", {**LATENCY, "pod": "x"})]),
                       headers=OP).json()
        assert again == {**again, "action": "deduplicated", "incident": first["incident"]}
        other_group = c.post(ROUTE, json=webhook("g2", [alert("fp2", LATENCY)]), headers=OP).json()
        assert other_group["action"] == "deduplicated" and other_group["incident"] == first["incident"]
        assert c.app.state.alerts.drain(60)
        inc = c.app.state.alerts.store.get(first["incident"])
        assert inc.investigation["status"] == "answered", inc.investigation
        assert inc.investigation["root_cause"] == "paymentservice"
        requests = [r for r in service.gate.audit.records() if r.kind == "request"]
        assert [(r.actor, r.conversation_id) for r in requests] == [("alertmanager", inc.conversation_id)]
        assert requests[0].data["role"] == "operator" and requests[0].data["channel"] == "alertmanager"
        summary = slack.wait_for(1, 10)[0]["body"]
        text = str(summary["blocks"])
        assert summary["text"].startswith("Incident: High latency on checkoutservice")
        assert "paymentservice" in text and first["incident"] in text
        listed = c.get("/api/incidents", headers=VIEW).json()["incidents"]
        assert [i["id"] for i in listed["open"]] == [first["incident"]] and listed["recent"] == []

        # one alert resolves: still open; the last one resolves: closed, and the update goes to Slack
        part = c.post(ROUTE, json=webhook("g1", [alert("fp1", LATENCY, status="resolved"),
                                                 alert("fp2", LATENCY)]), headers=OP).json()
        assert part["action"] == "deduplicated" and part["status"] == "open"
        done = c.post(ROUTE, json=webhook("g1", [alert("fp1", LATENCY, status="resolved"),
                                                 alert("fp2", LATENCY, status="resolved")]), headers=OP).json()
        assert done["action"] == "closed" and done["incident"] == first["incident"]
        assert c.app.state.alerts.drain(30)
        update = slack.wait_for(2, 10)[1]["body"]
        assert update["text"].startswith("Resolved: High latency on checkoutservice")
        assert first["incident"] in update["text"] and "paymentservice" in update["text"]
        listed = c.get("/api/incidents", headers=VIEW).json()["incidents"]
        assert listed["open"] == [] and [i["id"] for i in listed["recent"]] == [first["incident"]]
        late = c.post(ROUTE, json=webhook("g1", [alert("fp1", LATENCY, status="resolved")]), headers=OP).json()
        assert late["action"] == "ignored"
        assert len([r for r in service.gate.audit.records() if r.kind == "request"]) == 1


def test_a_write_above_operator_oversight_waits_and_slack_gets_the_buttons(tmp_path: Path, slack: FakeSlack) -> None:
    planner = ScriptedPlanner([call("restart_service", {"service": "checkoutservice"})])
    with client_for(tmp_path, slack, planner) as c:
        opened = c.post(ROUTE, json=webhook("g-restart", [alert("r1", LATENCY)]), headers=OP).json()
        assert c.app.state.alerts.drain(60)
        inc = c.app.state.alerts.store.get(opened["incident"])
        assert inc.investigation["status"] == "waiting_approval"
        (aid,) = inc.investigation["pending_approvals"]
        approval = c.app.state.service.gate.approvals.get(aid)
        assert approval.status == "pending" and approval.requested_by == "alertmanager"
        assert approval.requested_role == "operator"
        assert [e for e in c.app.state.service.live.tools.sim.events if e.kind == "restart"] == []
        blocks = slack.wait_for(1, 10)[0]["body"]["blocks"]
        buttons = [b for b in blocks if b["type"] == "actions"]
        assert [e["value"] for e in buttons[0]["elements"]] == [aid, aid]


def test_an_incident_accepted_before_a_crash_is_investigated_after_restart(tmp_path: Path, slack: FakeSlack) -> None:
    from agent.alerts.payload import AlertmanagerWebhook

    with client_for(tmp_path, slack, KeywordPlanner()) as c:
        intake = c.app.state.alerts
        intake._enqueue = lambda kind, iid: None  # the process dies before the worker gets to it
        opened = intake.receive(AlertmanagerWebhook.model_validate(webhook("g-crash", [alert("c1", LATENCY)])))
        assert intake.store.get(opened["incident"]).investigation["status"] == "queued"
    with client_for(tmp_path, slack, KeywordPlanner()) as c:  # same KEEL_HOME: startup picks it up
        assert c.app.state.alerts.drain(60)
        inc = c.app.state.alerts.store.get(opened["incident"])
        assert inc.investigation["status"] == "answered" and inc.investigation["root_cause"] == "paymentservice"


def test_one_fingerprint_listed_twice_is_one_alert(tmp_path: Path, slack: FakeSlack) -> None:
    with client_for(tmp_path, slack, KeywordPlanner()) as c:
        body = webhook("g-dup", [alert("d1", LATENCY), alert("d1", LATENCY, status="resolved")])
        r = c.post(ROUTE, json=body, headers=OP)
        assert r.status_code == 202, r.text
        inc = c.app.state.alerts.store.get(r.json()["incident"])
        assert [a["fingerprint"] for a in inc.alerts] == ["d1"] and inc.alerts[0]["status"] == "resolved"
        assert c.app.state.alerts.drain(60)


def test_with_a_bot_token_the_update_replies_in_the_summary_thread(tmp_path: Path, slack: FakeSlack) -> None:
    with client_for(tmp_path, slack, KeywordPlanner(), slack_bot_token=SecretStr("xoxb-test"),
                    alerts_slack_channel="#incidents", slack_api_url=slack.api) as c:
        opened = c.post(ROUTE, json=webhook("g-bot", [alert("b1", LATENCY)]), headers=OP).json()
        assert c.app.state.alerts.drain(60)
        c.post(ROUTE, json=webhook("g-bot", [alert("b1", LATENCY, status="resolved")]), headers=OP)
        assert c.app.state.alerts.drain(30)
        first, update = slack.wait_for(2, 10)[:2]
    assert first["path"] == update["path"] == "/api/chat.postMessage"
    assert first["body"]["channel"] == update["body"]["channel"] == "#incidents"
    assert "thread_ts" not in first["body"] and update["body"]["thread_ts"] == "1700000000.000001"
    inc = c.app.state.alerts.store.get(opened["incident"])
    assert inc.slack["thread"] == "1700000000.000001" and inc.slack["resolved"]["status"] == "delivered"
