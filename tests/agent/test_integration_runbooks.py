"""The agent and the runbook engine together, over a real AgentService (real gate, SQLite stores, simulator
with a memory leak; a scripted planner stands in for the model):

- a runbook step's approval decided through the agent's approval API resumes the run at once;
- `run_runbook` called by the agent: the conversation pauses on the run's own approval, then on the inner
  step's, and the step runs once; a new process finds the conversation from the run;
- `post_incident_summary` called by the agent gets the turn's findings, per conversation, without touching
  the shared tool context.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

pytest.importorskip("agent.planner.base", reason="the planner package is not in this tree")

from agent.approval_router import UnknownApproval  # noqa: E402
from agent.http.app import create_app  # noqa: E402
from config.settings import Settings  # noqa: E402
from governance.gate import Principal  # noqa: E402
from tests.agent.fakes import ScriptedPlanner, call, make_service  # noqa: E402
from tests.agent.runbooks.test_runbook_fixtures import Receiver, receiver  # noqa: E402

__all__ = ["receiver"]

TOKENS = "op=operator,appr=approver"
OP, APPR = {"Authorization": "Bearer op"}, {"Authorization": "Bearer appr"}
OLGA, ABE = Principal("olga", "operator"), Principal("abe", "approver")
LEAK = ("seed: 7\nload: {kind: diurnal, peak_rps: 400}\nat: 40m\nfaults:\n"
        "  - {type: memory_leak, service: cartservice, start: 20m, duration: 200m, intensity: 0.5}\n")


def _scenario(tmp_path: Path) -> Path:
    path = tmp_path / "leak.yaml"
    path.write_text(LEAK)
    return path


def _restarts(service: Any) -> int:
    return len([e for e in service.live.tools.sim.events if e.kind == "restart" and e.service == "cartservice"])


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, Any]]:
    monkeypatch.setenv("KEEL_RUNBOOK_RESUME_POLL_S", "0")  # no watcher: only the decision resumes the run
    monkeypatch.delenv("KEEL_SLACK_WEBHOOK_URL", raising=False)
    service, settings = make_service(tmp_path / "home", ScriptedPlanner(), _scenario(tmp_path), tokens=TOKENS)
    with TestClient(create_app(settings, service)) as client:
        yield client, service


def _paused_run(client: TestClient) -> dict[str, Any]:
    r = client.post("/api/runbooks/memory-leak/run", json={"service": "cart", "wait": True}, headers=OP)
    run = r.json()["run"]
    assert run["status"] == "paused" and run["steps"][-1]["id"] == "restart"
    return run


# ---------------------------------------------------------------- 1. the approval API decides runbook steps


def test_approving_a_runbook_step_through_the_approval_api_resumes_the_run(api: tuple[TestClient, Any]) -> None:
    client, service = api
    run = _paused_run(client)
    approval_id = run["steps"][-1]["approval_id"]
    listed = client.get("/api/approvals", headers=APPR).json()["approvals"]
    assert [a["id"] for a in listed] == [approval_id]

    r = client.post(f"/api/approvals/{approval_id}/approve", json={"note": "leak confirmed"}, headers=APPR)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["approval"]["status"] == "approved"
    assert body["run"]["id"] == run["id"]
    assert body["run"]["status"] == "completed_with_failures"  # only the summary failed: no webhook configured
    restart = [s for s in body["run"]["steps"] if s["id"] == "restart"][0]
    assert restart["status"] == "ok" and restart["approved_by"].startswith("approver-")
    reply = body["reply"]
    assert reply["conversation_id"] == run["id"] and reply["status"] == "answered"
    assert f"run {run['id']} completed with failures" in reply["text"] and "approved by approver-" in reply["text"]
    assert [s["step"] for s in reply["steps"] if s["tool"] == "restart_service"] == ["restart"]
    assert _restarts(service) == 1 and not service.live.tools.sim.active_faults()

    again = client.post(f"/api/approvals/{approval_id}/approve", headers=APPR)
    assert again.status_code == 409 and "already approved" in again.json()["error"]["message"]
    assert client.post("/api/approvals/nope/approve", headers=APPR).status_code == 404
    assert client.post("/api/approvals/nope/deny", headers=APPR).status_code == 404
    assert _restarts(service) == 1
    assert client.get("/api/audit/verify", headers=APPR).json()["ok"] is True


def test_denying_a_runbook_step_through_the_approval_api_stops_the_run(api: tuple[TestClient, Any]) -> None:
    client, service = api
    run = _paused_run(client)
    approval_id = run["steps"][-1]["approval_id"]
    r = client.post(f"/api/approvals/{approval_id}/deny", json={"note": "not now"}, headers=APPR)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["approval"]["status"] == "denied" and body["run"]["status"] == "failed"
    assert "denied by approver-" in body["reply"]["text"] and "not now" in body["reply"]["text"]
    assert _restarts(service) == 0


def test_operator_cannot_decide_a_runbook_step_and_the_run_stays_paused(api: tuple[TestClient, Any]) -> None:
    client, service = api
    run = _paused_run(client)
    r = client.post(f"/api/approvals/{run['steps'][-1]['approval_id']}/approve", headers=OP)
    assert r.status_code == 403
    assert service.runbook_run(run["id"]).status == "paused" and _restarts(service) == 0


def test_service_decide_resumes_a_run_started_outside_any_conversation(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KEEL_SLACK_WEBHOOK_URL", raising=False)
    service, _ = make_service(tmp_path, ScriptedPlanner(), _scenario(tmp_path))
    host = service.runbooks
    assert host is not None
    run = host.engine.start("memory-leak", {"service": "cartservice"}, OLGA, host.ctx())
    assert run.status == "paused" and run.pending is not None
    events = list(service.decide_stream(run.pending.approval_id, ABE, approve=True))
    assert [e.kind for e in events] == ["decision"]
    assert events[0].data["run"]["status"] == "completed_with_failures" and events[0].data["by"] == "abe"
    assert service.runbook_run(run.id).status == "completed_with_failures" and _restarts(service) == 1
    with pytest.raises(UnknownApproval):
        service.decide("no-such-approval", ABE, approve=True)


# ---------------------------------------------------------------- 2. run_runbook and post_incident_summary


def _run_runbook_service(home: Path, scenario: Path) -> Any:
    planner = ScriptedPlanner([call("run_runbook", {"name": "memory-leak", "service": "cartservice"})])
    service, _ = make_service(home, planner, scenario)
    return service


def test_agent_runs_a_runbook_pausing_on_its_own_and_on_the_inner_steps_approval(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KEEL_SLACK_WEBHOOK_URL", raising=False)
    scenario = _scenario(tmp_path)
    service = _run_runbook_service(tmp_path / "home", scenario)
    first = service.ask("run the memory-leak runbook on cartservice", OLGA, "c-rb")
    assert first.status == "waiting_approval" and first.pending[0]["tool"] == "run_runbook"

    inner = service.decide(first.pending[0]["approval_id"], ABE, approve=True)
    assert inner.status == "waiting_approval", inner.text
    pending = inner.pending[0]
    assert pending["tool"] == "restart_service" and pending["args"] == {"service": "cartservice"}
    run_id = pending["run_id"]
    assert run_id.startswith("rb-") and service.runbook_run(run_id).status == "paused"
    assert service.runbook_run(run_id).context["conversation_id"] == "c-rb"
    assert "needs approval" in inner.text and _restarts(service) == 0

    # a new process over the same home finds the conversation through the run, and resumes both
    service2 = _run_runbook_service(tmp_path / "home", scenario)
    assert service2.conversation_of(pending["approval_id"]) == "c-rb"
    done = service2.decide(pending["approval_id"], ABE, approve=True)
    assert done.status == "answered", done.text
    step = done.steps[-1]
    assert step["tool"] == "run_runbook" and step["result"]["status"] == "ok" and step["approved_by"] == "abe"
    assert step["result"]["data"]["run_id"] == run_id
    assert step["result"]["data"]["status"] == "completed_with_failures"  # only the summary: no webhook
    assert f"run_id {run_id}, runbook memory-leak, status completed_with_failures" in done.text
    assert "'steps'" not in done.text  # the run's step list stays in the result, not in the answer
    assert _restarts(service2) == 1 and _restarts(service) == 0
    restart = [s for s in service2.runbook_run(run_id).steps if s.id == "restart"][0]
    assert restart.status == "ok" and restart.approved_by == "abe"
    started = [r for r in service2.gate.audit.records()
               if r.kind == "action_started" and r.tool == "restart_service"]
    assert len(started) == 1
    with pytest.raises(Exception, match="already approved"):  # nothing waits on it any more
        service2.decide(pending["approval_id"], ABE, approve=True)
    assert service2.gate.audit.verify().ok


def test_agent_denial_of_a_runbook_step_stops_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KEEL_SLACK_WEBHOOK_URL", raising=False)
    service = _run_runbook_service(tmp_path / "home", _scenario(tmp_path))
    first = service.ask("run the memory-leak runbook on cartservice", OLGA, "c-deny")
    inner = service.decide(first.pending[0]["approval_id"], ABE, approve=True)
    pending = inner.pending[0]
    done = service.decide(pending["approval_id"], ABE, approve=False, note="not during peak")
    assert done.status == "answered"
    step = done.steps[-1]
    assert step["tool"] == "run_runbook" and step["result"]["status"] == "denied"
    assert "not during peak" in step["result"]["error"] and step["result"]["data"]["status"] == "failed"
    assert service.runbook_run(pending["run_id"]).status == "failed" and _restarts(service) == 0


def test_agent_posts_an_incident_summary_of_its_own_findings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             receiver: Receiver) -> None:
    monkeypatch.setenv("KEEL_SLACK_WEBHOOK_URL", receiver.url)
    planner = ScriptedPlanner([call("query_metrics", {"service": "cartservice", "metric": "memory", "window": "30m"}),
                               call("post_incident_summary", {"channel": "#incidents"})])
    service, _ = make_service(tmp_path, planner, _scenario(tmp_path))
    shared = service.live.tools.deps
    requests = {"c-a": "cartservice memory keeps growing", "c-b": "is cartservice leaking memory?"}
    replies: dict[str, Any] = {}

    def ask(cid: str) -> None:
        replies[cid] = service.ask(requests[cid], OLGA, cid)

    threads = [threading.Thread(target=ask, args=(cid,)) for cid in requests]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for cid, reply in replies.items():
        step = reply.steps[-1]
        assert step["tool"] == "post_incident_summary" and step["result"]["status"] == "ok", step["result"]
        assert step["result"]["data"]["title"] == requests[cid]
        assert step["result"]["data"]["delivery"]["status"] == "delivered"
    bodies = receiver.json_bodies()
    assert len(bodies) == 2 and all("cartservice" in b["text"] for b in bodies)
    assert service.live.tools.deps == shared  # per-call deps never reach the shared context
    assert service.runbooks.ctx().deps.incident is None and service.runbooks.ctx().deps.runbooks is None


def test_without_a_runbook_host_the_tool_says_what_is_missing(tmp_path: Path) -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    from agent.service import AgentService

    built, _ = make_service(tmp_path, ScriptedPlanner(), _scenario(tmp_path))
    planner = ScriptedPlanner([call("run_runbook", {"name": "memory-leak", "service": "cartservice"})])
    bare = AgentService(planner, built.gate, built.live, InMemorySaver(), step_limit=4)
    first = bare.ask("run memory-leak on cartservice", OLGA, "c-bare")
    done = bare.decide(first.pending[0]["approval_id"], ABE, approve=True)
    result = done.steps[-1]["result"]
    assert result["status"] == "error" and "ctx.deps.runbooks" in result["error"]


# ---------------------------------------------------------------- 3. a missing adapter says how to fix it


def test_missing_planner_adapter_says_how_to_fix_it(tmp_path: Path) -> None:
    from agent.composition import build_service

    settings = Settings(home=tmp_path, planner="llama", planner_adapter=str(tmp_path / "absent.gguf"))
    with pytest.raises(FileNotFoundError) as e:
        build_service(settings, _scenario(tmp_path), live=False)
    message = str(e.value)
    assert "absent.gguf" in message and "keel finetune slm" in message and "KEEL_PLANNER_ADAPTER=none" in message


# ---------------------------------------------------------------- Slack buttons on a conversation's runbook step


def test_slack_buttons_resume_a_conversation_paused_on_its_runbook(tmp_path: Path, receiver: Receiver,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.agent.test_slack import SECRET, Slack, _pending_from, action_body, command_body

    operator, approver = "U0OPERATOR", "U0APPROVER"
    monkeypatch.setenv("KEEL_SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("KEEL_SLACK_USERS", f"{operator}=operator,{approver}=approver")
    monkeypatch.setenv("KEEL_SLACK_WEBHOOK_URL", receiver.url)
    monkeypatch.setenv("KEEL_RUNBOOK_RESUME_POLL_S", "0")
    planner = ScriptedPlanner([call("run_runbook", {"name": "memory-leak", "service": "cartservice"})])
    service, settings = make_service(tmp_path / "home", planner, _scenario(tmp_path))
    with TestClient(create_app(settings, service)) as client:
        s = Slack(client, service, planner, receiver)
        s.post("/slack/commands", command_body("run the memory-leak runbook on cart", operator, receiver.url))
        own = _pending_from(s.wait_posts(1)[0])  # the run_runbook call's own approval
        cid = service.conversation_of(own)
        s.post("/slack/actions", action_body("keel_approve", own, approver, receiver.url))
        step = _pending_from(s.wait_posts(2)[1])  # the restart step inside the run
        assert service.gate.approvals.get(step).tool == "restart_service"
        assert service.reply(cid).status == "waiting_approval"
        s.post("/slack/actions", action_body("keel_approve", step, approver, receiver.url))
        posts = s.wait_posts(4)  # the run's summary (webhook), then the conversation's answer
        reply = service.reply(cid)
        assert reply.status == "answered", reply.text
        assert reply.steps[-1]["result"]["data"]["status"] == "succeeded"
        assert any("Incident: memory-leak" in json.dumps(p) for p in posts[2:])
    assert _restarts(service) == 1
