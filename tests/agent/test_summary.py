"""Incident summaries: findings from a real run, Block Kit within Slack's limits (checked with slack_sdk's
own models), a narrative whose numbers and service names all come from the findings, and webhook delivery
with retries and backoff against a receiver on 127.0.0.1, audited through the gate."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from agent.summary.blocks import MAX_BLOCKS, build_message, fallback_text
from agent.summary.delivery import deliver
from agent.summary.findings import ActionTaken, Cause, Findings, Measurement, findings_from_agent_steps
from agent.summary.narrative import narrative, template, ungrounded
from tests.agent.test_runbook_fixtures import ALICE, Receiver, approve_through, make_engine, receiver, sim_at
from tests.shop import SERVICES
from tools.backends.sim.faults import Fault

__all__ = ["receiver"]

_NUM = re.compile(r"(?<![A-Za-z_\d.])\d+(?:\.\d+)?")


def _memory_leak_findings(tmp_path: Path) -> tuple[Findings, Any]:
    _, ctx = sim_at(40, Fault("memory_leak", "cartservice", 20, 200, 0.5))
    ctx.extras["slack_webhook_url"] = ""  # the summary step fails (no webhook): findings are built anyway
    engine = make_engine(tmp_path)
    run = approve_through(engine, engine.start("memory-leak", {"service": "cart"}, ALICE, ctx), ctx)
    from agent.summary.findings import findings_from_run

    return findings_from_run(run), run


def assert_grounded(text: str, f: Findings) -> None:
    """Every number in `text` is a number of the findings (up to the digits shown); every service named is in them."""
    source = f.text()
    known = [float(n) for n in _NUM.findall(source)]
    for n in _NUM.findall(text):
        decimals = len(n.split(".")[1]) if "." in n else 0
        assert any(abs(k - float(n)) <= 0.5 * 10 ** -decimals + 1e-9 for k in known), f"{n} not in the findings"
    for s in SERVICES:
        if re.search(rf"(?<![\w-]){re.escape(s)}(?![\w-])", text):
            assert s in source, f"{s} not in the findings"


def test_findings_from_a_run(tmp_path: Path) -> None:
    f, run = _memory_leak_findings(tmp_path)
    assert f.service == "cartservice" and f.symptom and f.symptom.metric == "memory"
    assert f.state and f.state.value < f.symptom.max  # type: ignore[operator]
    restart = [a for a in f.actions if a.tool == "restart_service"][0]
    assert restart.status == "ok" and restart.oversight == "approval" and restart.approved_by == "bob"
    assert restart.audit_ids and restart.action_id == run.step("restart").approval_id
    assert any("OOMKilled" in e for e in f.evidence) and f.status == "mitigated" and f.next_steps
    assert f.source == {"runbook": "memory-leak", "run_id": run.id}


def test_template_narrative_is_grounded(tmp_path: Path) -> None:
    f, _ = _memory_leak_findings(tmp_path)
    text, source = narrative(f, None)
    assert source == "template" and "cartservice" in text and "restarted" in text
    assert_grounded(text, f)
    assert ungrounded(text, f) == []


class _Model:
    """Stands in for the summary model in this test only."""

    def __init__(self, text: str | Exception) -> None:
        self.text = text
        self.seen: dict[str, Any] | None = None

    def summarize(self, findings: dict[str, Any]) -> str:
        self.seen = findings
        if isinstance(self.text, Exception):
            raise self.text
        return self.text


def test_model_narrative_used_only_when_grounded_and_well_formed(tmp_path: Path) -> None:
    f, _ = _memory_leak_findings(tmp_path)
    assert f.symptom is not None and f.state is not None
    good = f"cartservice memory fell from {f.symptom.value:g} MB to {f.state.value:g} MB after a restart."
    model = _Model(good)
    assert narrative(f, model) == (good, "model")
    assert model.seen is not None and model.seen["symptom"]["service"] == "cartservice"
    assert_grounded(good, f)
    rambling = "The cartservice service is a service. " + "The service is used to retrieve data. " * 5
    swapped = f"cartservice memory went from {f.state.value:g}MB to {f.state.value:g}MB."  # real numbers, wrong change
    for bad in ("cartservice memory reached 9999 MB.", "paymentservice was restarted.", "", RuntimeError("down"),
                rambling, "Memory fell after a restart.", "cartservice " + "x" * 700, swapped):
        text, source = narrative(f, _Model(bad))
        assert source == "template" and text == template(f)
        assert_grounded(text, f)


def _big_findings() -> Findings:
    actions = [ActionTaken("scale_service", {"service": "frontend", "replicas": i % 9 + 1}, "ok", "medium",
                           "notification", audit_ids=[i, i + 1], detail="x" * 400) for i in range(60)]
    actions += [ActionTaken("restart_service", {"service": "cartservice"}, "pending_approval", "high", "approval",
                            approval_id=f"ap{i:03d}") for i in range(50)]
    return Findings(
        title="checkout is slow " * 30, service="checkoutservice",
        symptom=Measurement("checkoutservice", "latency_p99", "ms", 951.2, "15m", 240.0, 990.0),
        root_cause=Cause("paymentservice", 0.8, ["e" * 5000], ["checkoutservice", "paymentservice"]),
        evidence=["log line <script>&" * 400], actions=actions,
        state=Measurement("checkoutservice", "latency_p99", "ms", 250.0, "5m"), status="waiting_approval",
        next_steps=["watch"] * 3, source={"runbook": "high-latency", "run_id": "rb-1"})


def test_block_kit_stays_within_slack_limits() -> None:
    f = _big_findings()
    msg = build_message(f, "n" * 4000)
    blocks = msg["blocks"]
    assert len(blocks) <= MAX_BLOCKS
    for b in blocks:
        Block.parse(b).to_dict()  # slack_sdk validates header <= 150, section text <= 3000, fields, buttons
    assert len(blocks[0]["text"]["text"]) <= 150 and blocks[0]["text"]["text"].endswith("(truncated)")
    texts = [b["text"]["text"] for b in blocks if b["type"] == "section" and "text" in b]
    assert all(len(t) <= 3000 for t in texts) and any(t.endswith("… (truncated)") for t in texts)
    assert any("more pending approvals not shown (truncated)" in json.dumps(b) for b in blocks)
    assert "&lt;script&gt;&amp;" in json.dumps(blocks) and "<script>" not in json.dumps(blocks)
    assert msg["text"].startswith("Incident: checkout is slow") and len(msg["text"]) <= 40_000


def test_small_message_layout_and_buttons() -> None:
    f = _big_findings()
    f.title, f.actions, f.evidence = "checkout is slow", f.actions[:1] + f.actions[60:61], ["one line"]
    f.root_cause = Cause("paymentservice", 0.8, ["p99 up 4x"], ["checkoutservice", "paymentservice"])
    msg = build_message(f, "checkoutservice p99 latency was 951.2 ms.")
    kinds = [b["type"] for b in msg["blocks"]]
    assert kinds[0] == "header" and "divider" in kinds and kinds[-1] == "context"
    buttons = [b for b in msg["blocks"] if b["type"] == "actions"]
    assert len(buttons) == 1 and [e["action_id"] for e in buttons[0]["elements"]] == ["keel_approve", "keel_deny"]
    assert buttons[0]["elements"][0]["value"] == "ap000"
    text = json.dumps(msg["blocks"])
    for part in ("Symptom", "Root cause", "Actions", "Current state", "Next steps", "oversight *notification*",
                 "audit #0, #1", "paymentservice"):
        assert part in text
    fb = fallback_text(f, "n")
    assert "Root cause: paymentservice" in fb and "restart_service" in fb


def test_findings_from_agent_steps() -> None:
    steps = [
        {"tool": "query_metrics", "args": {"service": "checkoutservice", "metric": "latency_p99"},
         "result": {"status": "ok", "data": {"service": "checkoutservice", "metric": "latency_p99", "unit": "ms",
                                             "window": "15m", "current": 900.0, "start": 200.0, "max": 950.0}}},
        {"tool": "scale_service", "args": {"service": "checkoutservice", "replicas": 2}, "risk": "medium",
         "oversight": "notification", "result": {"status": "ok", "data": {"replicas": 2}}},
    ]
    f = findings_from_agent_steps("checkout is slow", steps, "c-1")
    assert f.service == "checkoutservice" and f.symptom and f.symptom.value == 900.0
    assert f.actions[0].oversight == "notification" and f.source == {"conversation_id": "c-1"}


def test_delivery_retries_with_backoff(receiver: Receiver) -> None:
    receiver.responses = [(500, {}, "oops"), (503, {}, "busy"), (429, {"Retry-After": "0"}, "slow down")]
    waits: list[float] = []
    d = deliver(receiver.url, {"text": "t", "blocks": []}, attempts=5, backoff_s=0.25, sleep=waits.append)
    assert d.status == "delivered" and d.attempts == 4 and d.http_status == 200
    assert waits == [0.25, 0.5, 0.0]  # exponential, then the server's Retry-After
    assert len({r["body"] for r in receiver.requests}) == 1 and len(receiver.requests) == 4
    assert receiver.requests[0]["headers"]["Content-Type"].startswith("application/json")


def test_delivery_gives_up(receiver: Receiver) -> None:
    receiver.responses = [(404, {}, "no_service")]
    d = deliver(receiver.url, {"text": "t"}, sleep=lambda s: None)
    assert d.status == "failed" and d.attempts == 1 and d.http_status == 404 and "no_service" in (d.error or "")
    receiver.responses = [(500, {}, "x")] * 3
    d = deliver(receiver.url, {"text": "t"}, attempts=3, sleep=lambda s: None)
    assert d.status == "failed" and d.attempts == 3 and d.http_status == 500
    d = deliver("http://127.0.0.1:1/closed", {"text": "t"}, attempts=2, sleep=lambda s: None)
    assert d.status == "failed" and d.attempts == 2 and "refused" in (d.error or "").lower()
    d = deliver("file:///etc/passwd", {"text": "t"})
    assert d.status == "failed" and d.attempts == 0 and "slack_webhook_url must be an http(s) URL" in (d.error or "")


def test_post_incident_summary_through_the_gate_is_audited(tmp_path: Path, receiver: Receiver) -> None:
    f, _ = _memory_leak_findings(tmp_path / "run")
    engine = make_engine(tmp_path)
    _, ctx = sim_at(5)
    receiver.responses = [(500, {}, "oops")]
    ctx.extras.update(incident=f, slack_webhook_url=receiver.url, delivery_options={"backoff_s": 0.01})
    r = engine.gate.execute("post_incident_summary", {"channel": "#ops"}, ctx, ALICE, "post the summary")
    assert r.status == "ok" and r.data["delivery"]["attempts"] == 2 and r.data["channel"] == "#ops"
    body = receiver.json_bodies()[-1]
    assert body["blocks"][0]["type"] == "header" and "cartservice" in body["text"]
    results = [x for x in engine.gate.audit.records() if x.kind == "action_result"]
    delivery = results[-1].data["data"]["delivery"]
    assert results[-1].tool == "post_incident_summary" and delivery["status"] == "delivered"
    assert delivery["attempts"] == 2 and delivery["host"] == "127.0.0.1"
    assert all(receiver.url not in x.body for x in engine.gate.audit.records())  # the secret URL is not kept


@pytest.mark.parametrize(("extras", "needle"), [
    ({}, "ctx.extras['incident']"),
    ({"incident": "SET", "slack_webhook_url": ""}, "KEEL_SLACK_WEBHOOK_URL"),
])
def test_post_incident_summary_says_what_is_missing(extras: dict[str, Any], needle: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from tools.registry import call_tool

    monkeypatch.delenv("KEEL_SLACK_WEBHOOK_URL", raising=False)
    _, ctx = sim_at(5)
    if extras.get("incident") == "SET":
        extras["incident"] = _big_findings()
    ctx.extras.update(extras)
    r = call_tool("post_incident_summary", {}, ctx)
    assert r.status == "error" and needle in (r.error or "")
