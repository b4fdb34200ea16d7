"""The HTTP API under uvicorn on 127.0.0.1: the official openai client (plain and streamed), approvals by
role, audit, incidents, health, and the error contract (401/403/400/404/413/429 as JSON)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

pytest.importorskip("agent.planner.base", reason="the planner package (agent/planner/base.py) is not in this tree")

from agent.http.app import create_app
from tests.agent.fakes import ScriptedPlanner, make_service
from tests.agent.http_server import serve

TOKENS = "op-token=operator,view-token=viewer,appr-token=approver"
OP, VIEW, APPR = ({"Authorization": f"Bearer {t}"} for t in ("op-token", "view-token", "appr-token"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, object]]:
    home = tmp_path_factory.mktemp("http-home")
    service, settings = make_service(home, ScriptedPlanner(), tokens=TOKENS, step_limit=10)
    with serve(create_app(settings, service)) as url:
        yield url, service


def test_openai_client_plain_completion(server) -> None:
    url, _ = server
    client = openai.OpenAI(base_url=url + "/v1", api_key="op-token")
    assert [m.id for m in client.models.list()] == ["keel"]
    resp = client.chat.completions.create(model="keel", messages=[{"role": "user", "content": "why is checkout slow?"}])
    assert resp.object == "chat.completion"
    text = resp.choices[0].message.content
    assert resp.choices[0].finish_reason == "stop" and "paymentservice" in text.splitlines()[0]
    keel = resp.model_extra["keel"]
    assert keel["status"] == "answered" and len(keel["steps"]) == 8


def test_openai_client_streamed_completion_shows_the_steps(server) -> None:
    url, _ = server
    client = openai.OpenAI(base_url=url + "/v1", api_key="op-token")
    stream = client.chat.completions.create(model="keel", stream=True,
                                            messages=[{"role": "user", "content": "why is checkout slow?"}])
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant" and chunks[-1].choices[0].finish_reason == "stop"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert "[1] query_metrics(service=checkoutservice, metric=latency_p99, window=30m) · logging" in text
    assert "[2] get_topology(service=checkoutservice)" in text
    assert text.index("[8] ") < text.index("paymentservice shows the largest")
    kinds = [c.model_extra["keel"]["event"]["kind"] for c in chunks if c.model_extra.get("keel")]
    assert kinds[0] == "turn" and "step" in kinds and kinds[-1] == "answer"


def test_raw_sse_ends_with_done(server) -> None:
    url, _ = server
    with httpx.stream("POST", url + "/v1/chat/completions", headers=OP, timeout=60,
                      json={"messages": [{"role": "user", "content": "scale checkout to 0"}], "stream": True}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = [ln for ln in r.iter_lines() if ln]
    assert lines[-1] == "data: [DONE]" and all(ln.startswith("data: ") for ln in lines)


def test_blocked_action_over_http(server) -> None:
    url, service = server
    before = service.live.tools.sim.replicas.tolist()
    r = httpx.post(url + "/v1/chat/completions", headers=OP, timeout=60,
                   json={"messages": [{"role": "user", "content": "scale checkout to 0"}]})
    assert r.status_code == 200
    body = r.json()
    assert body["keel"]["steps"][0]["oversight"] == "blocking"
    assert body["choices"][0]["message"]["content"].startswith("I did not run scale_service:")
    assert service.live.tools.sim.replicas.tolist() == before


def test_approval_flow_viewer_cannot_approver_can_runs_once(server) -> None:
    url, service = server
    r = httpx.post(url + "/v1/chat/completions", headers=OP, timeout=60,
                   json={"messages": [{"role": "user", "content": "restart cartservice"}], "conversation_id": "c-http"})
    keel = r.json()["keel"]
    assert keel["status"] == "waiting_approval"
    aid = keel["pending"][0]["approval_id"]
    listed = httpx.get(url + "/api/approvals", headers=VIEW).json()["approvals"]
    assert aid in [a["id"] for a in listed]
    r = httpx.post(url + f"/api/approvals/{aid}/approve", headers=VIEW, json={"note": "x"})
    assert r.status_code == 403 and "approver" in r.json()["error"]["message"]
    r = httpx.post(url + f"/api/approvals/{aid}/approve", headers=OP)
    assert r.status_code == 403
    r = httpx.post(url + f"/api/approvals/{aid}/approve", headers=APPR, json={"note": "ok"}, timeout=60)
    assert r.status_code == 200, r.text
    assert r.json()["approval"]["status"] == "approved" and r.json()["reply"]["status"] == "answered"
    r = httpx.post(url + f"/api/approvals/{aid}/approve", headers=APPR)
    assert r.status_code in (404, 409)
    restarts = [e for e in service.live.tools.sim.events if e.kind == "restart" and e.service == "cartservice"]
    assert len(restarts) == 1
    audit = httpx.get(url + "/api/audit", headers=VIEW, params={"conversation_id": "c-http"}).json()["records"]
    kinds = [x["kind"] for x in audit]
    expected = {"proposal", "decision", "approval", "action_started", "action_result"}
    assert kinds[0] == "request" and expected <= set(kinds)
    assert httpx.get(url + "/api/audit/verify", headers=VIEW).json()["ok"] is True


def test_errors_are_json_and_say_what_was_wrong(server) -> None:
    url, _ = server
    r = httpx.post(url + "/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 401 and "bearer" in r.json()["error"]["message"].lower()
    r = httpx.post(url + "/v1/chat/completions", headers={"Authorization": "Bearer nope"}, json={})
    assert r.status_code == 401 and r.json()["error"]["message"] == "unknown bearer token"
    r = httpx.post(url + "/v1/chat/completions", headers=OP, json={"messages": []})
    assert r.status_code == 400 and r.json()["error"]["param"] == "messages"
    r = httpx.post(url + "/v1/chat/completions", headers=OP, json={"messages": [{"role": "robot", "content": "x"}]})
    assert r.status_code == 400 and "role" in r.json()["error"]["message"]
    r = httpx.post(url + "/v1/chat/completions", headers=OP, content=b"{not json", timeout=10)
    assert r.status_code == 400
    r = httpx.post(url + "/api/approvals/nope/approve", headers=APPR)
    assert r.status_code == 404 and "nope" in r.json()["error"]["message"]
    r = httpx.get(url + "/api/audit", headers=VIEW, params={"kind": "gossip"})
    assert r.status_code == 400 and "allowed" in r.json()["error"]["message"]
    r = httpx.get(url + "/api/audit", headers=VIEW, params={"after_seq": 2**64})
    assert 400 <= r.status_code < 500 and "after_seq" in r.text
    big = "x" * 70_000
    r = httpx.post(url + "/v1/chat/completions", headers=OP, json={"messages": [{"role": "user", "content": big}]})
    assert r.status_code == 413 and "max_request_bytes" in r.json()["error"]["message"]


def test_incidents_and_health(server) -> None:
    url, _ = server
    h = httpx.get(url + "/healthz").json()
    assert h["status"] == "ok" and h["planner"] == "scripted" and h["queue"]["capacity"] == 16
    inc = httpx.get(url + "/api/incidents", headers=VIEW).json()
    services = {s["service"] for s in inc["symptoms"]}
    assert "paymentservice" in services  # the injected latency shows up as a symptom
    assert httpx.get(url + "/api/incidents").status_code == 401


def test_full_queue_answers_429_with_retry_after(tmp_path: Path) -> None:
    service, settings = make_service(tmp_path, ScriptedPlanner(delay_s=0.5), tokens=TOKENS, queue_size=1)
    with serve(create_app(settings, service)) as url:
        slow = threading.Thread(target=lambda: httpx.post(
            url + "/v1/chat/completions", headers=OP, timeout=60,
            json={"messages": [{"role": "user", "content": "why is checkout slow?"}]}))
        slow.start()
        deadline = time.time() + 10
        while service.admission.active == 0 and time.time() < deadline:
            time.sleep(0.02)
        r = httpx.post(url + "/v1/chat/completions", headers=OP, timeout=60,
                       json={"messages": [{"role": "user", "content": "why is checkout slow?"}], "stream": True})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        assert r.json()["error"]["code"] == "queue_full"
        slow.join(timeout=60)
