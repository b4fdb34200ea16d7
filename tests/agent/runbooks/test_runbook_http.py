"""`/api/runbooks` over a real AgentService (real gate and stores, simulator with a memory leak; a scripted
planner stands in for the model): list, show, dry-run, run, pause on approval, resume by request and by
the watcher, roles and errors."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

pytest.importorskip("agent.planner.base", reason="the planner package is not in this tree")

from agent.http.app import create_app  # noqa: E402
from governance.gate import Principal  # noqa: E402
from tests.agent.fakes import ScriptedPlanner, make_service  # noqa: E402

TOKENS = "op=operator,view=viewer,appr=approver"
OP, VIEW = {"Authorization": "Bearer op"}, {"Authorization": "Bearer view"}
LEAK = ("seed: 7\nload: {kind: diurnal, peak_rps: 400}\nat: 40m\nfaults:\n"
        "  - {type: memory_leak, service: cartservice, start: 20m, duration: 200m, intensity: 0.5}\n")


def _client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, poll_s: str) -> tuple[TestClient, Any]:
    monkeypatch.setenv("KEEL_RUNBOOK_RESUME_POLL_S", poll_s)
    monkeypatch.delenv("KEEL_SLACK_WEBHOOK_URL", raising=False)
    scenario = tmp_path / "leak.yaml"
    scenario.write_text(LEAK)
    service, settings = make_service(tmp_path / "home", ScriptedPlanner(), scenario, tokens=TOKENS)
    return TestClient(create_app(settings, service)), service


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, Any]]:
    client, service = _client(tmp_path, monkeypatch, "0")
    with client:
        yield client, service


def test_list_show_and_unknown(api: tuple[TestClient, Any]) -> None:
    client, _ = api
    names = [r["name"] for r in client.get("/api/runbooks", headers=VIEW).json()["runbooks"]]
    assert names == ["bad-deploy", "error-spike", "high-latency", "memory-leak", "traffic-surge"]
    shown = client.get("/api/runbooks/high-latency", headers=VIEW).json()
    assert shown["parameters"]["service"]["required"] and shown["steps"][0]["id"] == "p99_before"
    for r in (client.get("/api/runbooks/nope", headers=VIEW),
              client.post("/api/runbooks/nope/run", json={"service": "cart"}, headers=OP)):
        assert r.status_code == 404
        assert "available: bad-deploy, error-spike, high-latency" in r.json()["error"]["message"]
    assert client.get("/api/runbooks").status_code == 401
    assert client.get("/api/runbooks/runs/rb-none", headers=VIEW).status_code == 404


def test_dry_run_roles_and_bad_params(api: tuple[TestClient, Any]) -> None:
    client, service = api
    before = service.gate.audit.head()
    plan = client.post("/api/runbooks/memory-leak/run", json={"service": "cart", "dry_run": True}, headers=OP)
    assert plan.status_code == 200
    steps = {s["id"]: s for s in plan.json()["plan"]["steps"]}
    assert steps["restart"]["oversight"] == "approval" and steps["memory_before"]["oversight"] == "logging"
    assert service.gate.audit.head() == before  # a dry run records nothing
    assert client.post("/api/runbooks/memory-leak/run", json={"service": "cart"}, headers=VIEW).status_code == 403
    bad = client.post("/api/runbooks/memory-leak/run", json={"service": "nosuch"}, headers=OP)
    assert bad.status_code == 400 and "parameter service: unknown service 'nosuch'" in bad.json()["error"]["message"]
    bad = client.post("/api/runbooks/memory-leak/run", json={"service": "cart", "params": {"growth": 99}}, headers=OP)
    assert bad.status_code == 400 and "growth: must be at most 10" in bad.json()["error"]["message"]
    extra = client.post("/api/runbooks/memory-leak/run", json={"service": "cart", "force": True}, headers=OP)
    assert extra.status_code == 400
    assert client.get("/api/runbooks/runs", headers=VIEW).json()["runs"] == []


def test_run_pauses_and_resumes(api: tuple[TestClient, Any]) -> None:
    client, service = api
    r = client.post("/api/runbooks/memory-leak/run", json={"service": "cart", "wait": True}, headers=OP)
    assert r.status_code == 200
    run = r.json()["run"]
    assert run["status"] == "paused" and run["steps"][-1]["id"] == "restart"
    approval_id = run["steps"][-1]["approval_id"]
    listed = client.get("/api/runbooks/runs?status=paused", headers=VIEW).json()["runs"]
    assert [x["id"] for x in listed] == [run["id"]]
    early = client.post(f"/api/runbooks/runs/{run['id']}/resume?wait=true", headers=OP).json()["run"]
    assert early["status"] == "paused"  # the approval is still pending
    service.gate.approve(approval_id, Principal("carol", "approver"))
    done = client.post(f"/api/runbooks/runs/{run['id']}/resume?wait=true", headers=OP)
    assert done.status_code == 200
    final = done.json()["run"]
    assert final["status"] == "completed_with_failures"  # only the summary failed: no webhook is configured
    assert [s["id"] for s in final["steps"] if s["status"] == "error"] == ["summary"]
    restart = [s for s in final["steps"] if s["id"] == "restart"][0]
    assert restart["status"] == "ok" and restart["approved_by"] == "carol"
    assert not service.live.tools.sim.active_faults()


def test_run_is_accepted_at_once_and_the_watcher_resumes_it(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    client, service = _client(tmp_path, monkeypatch, "0.1")
    with client:
        r = client.post("/api/runbooks/memory-leak/run", json={"service": "cart"}, headers=OP)
        assert r.status_code == 202 and r.json()["run"]["id"].startswith("rb-")
        run_id = r.json()["run"]["id"]

        def status() -> dict[str, Any]:
            return client.get(f"/api/runbooks/runs/{run_id}", headers=VIEW).json()["run"]

        deadline = time.monotonic() + 30
        while status()["status"] != "paused" and time.monotonic() < deadline:
            time.sleep(0.05)
        run = status()
        assert run["status"] == "paused"
        service.gate.approve(run["steps"][-1]["approval_id"], Principal("carol", "approver"))
        while status()["status"] == "paused" and time.monotonic() < deadline:
            time.sleep(0.05)
        while status()["status"] == "running" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert status()["status"] == "completed_with_failures"
        assert not service.live.tools.sim.active_faults()
