"""Authorisation over HTTP: tokens, roles and approvals through the real app (keyword planner, simulator)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from agent.composition import build_service
from agent.http.app import create_app
from agent.planner import load_planner
from config.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "evals" / "scenarios" / "e2e" / "crash-cartservice.yaml"
TOKENS = {"viewer": "tok-viewer-0123456789", "operator": "tok-operator-0123456789",
          "alice": "tok-approver-alice-0123", "bob": "tok-approver-bob-012345"}
ROLE = {"viewer": "viewer", "operator": "operator", "alice": "approver", "bob": "approver"}


@pytest.fixture()
def client(tmp_path: Path) -> Iterator[TestClient]:
    spec = ",".join(f"{t}={ROLE[who]}" for who, t in TOKENS.items())
    settings = Settings(home=tmp_path, tokens=spec, autonomy=3, sim_tick_s=3600.0)
    service = build_service(settings, SCENARIO, planner=load_planner("keyword"), live=False)
    with TestClient(create_app(settings, service)) as c:
        c.service = service  # type: ignore[attr-defined]
        yield c
    service.close()


def _h(who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[who]}"}


def _chat(c: TestClient, who: str, text: str, cid: str) -> dict:
    r = c.post("/v1/chat/completions", headers=_h(who),
               json={"model": "keel", "messages": [{"role": "user", "content": text}], "conversation_id": cid})
    assert r.status_code == 200, r.text
    return r.json()["keel"]


def _writes(c: TestClient) -> list[tuple[str, str]]:
    return [(e.kind, e.service) for e in c.service.live.tools.sim.events  # type: ignore[attr-defined]
            if e.kind in ("restart", "rollback", "scale")]


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer wrong-token", "Basic dG9rOng=",
                                    f"bearer {TOKENS['viewer']}x", f"Token {TOKENS['alice']}"])
def test_no_valid_token_no_access(client: TestClient, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    for method, path in (("GET", "/api/approvals"), ("GET", "/api/audit"), ("POST", "/v1/chat/completions"),
                         ("POST", "/api/approvals/x/approve")):
        r = client.request(method, path, headers=headers, json={})
        assert r.status_code == 401, (method, path, r.status_code)


def test_viewer_cannot_act_or_approve_operator_cannot_approve(client: TestClient) -> None:
    k = _chat(client, "viewer", "restart cartservice", "c-viewer")
    assert k["status"] == "answered" and k["steps"][0]["result"]["status"] == "denied"
    assert k["steps"][0]["oversight"] == "blocking" and _writes(client) == []

    k = _chat(client, "operator", "restart cartservice", "c-op")
    assert k["status"] == "waiting_approval"
    aid = k["pending"][0]["approval_id"]
    for who in ("viewer", "operator"):
        for verb in ("approve", "deny"):
            r = client.post(f"/api/approvals/{aid}/{verb}", headers=_h(who), json={"note": "mine"})
            assert r.status_code == 403, (who, verb, r.text)
    pending = client.get("/api/approvals", headers=_h("viewer")).json()["approvals"]
    assert [a["id"] for a in pending] == [aid] and _writes(client) == []

    r = client.post(f"/api/approvals/{aid}/approve", headers=_h("alice"), json={"note": "ok"})
    assert r.status_code == 200, r.text
    assert r.json()["approval"]["status"] == "approved" and _writes(client) == [("restart", "cartservice")]


def test_nobody_approves_their_own_high_risk_request(client: TestClient) -> None:
    k = _chat(client, "alice", "roll back paymentservice", "c-alice")
    aid = k["pending"][0]["approval_id"]
    r = client.post(f"/api/approvals/{aid}/approve", headers=_h("alice"), json={})
    assert r.status_code == 403 and r.json()["error"]["code"] == "self_approval"
    assert _writes(client) == []
    r = client.post(f"/api/approvals/{aid}/approve", headers=_h("bob"), json={})
    assert r.status_code == 200 and _writes(client) == [("rollback", "paymentservice")]


@pytest.mark.parametrize("who", ["operator", "alice"])
@pytest.mark.parametrize("text", ["scale frontend to 0", "restart redis-cart", "scale checkoutservice to 40"])
def test_critical_requests_never_reach_an_approver(client: TestClient, who: str, text: str) -> None:
    k = _chat(client, who, text, f"c-crit-{who}")
    step = k["steps"][0]
    assert step["result"]["status"] == "denied" and step["risk"] == "critical" and step["oversight"] == "blocking"
    assert client.get("/api/approvals", headers=_h("bob"), params={"status": "pending"}).json()["approvals"] == []
    assert _writes(client) == []
