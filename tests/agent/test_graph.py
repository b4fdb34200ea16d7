"""The agent graph over a scripted planner, the real gate and the simulator: investigation, grounding,
blocking, approval pauses, loop guards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("agent.planner.base", reason="the planner package (agent/planner/base.py) is not in this tree")

from governance.gate import Principal
from runtime.grounding import numbers_in
from tests.agent.fakes import ScriptedPlanner, call, make_service

OPERATOR = Principal("olga", "operator")
APPROVER = Principal("abe", "approver")
VIEWER = Principal("vic", "viewer")


def _results_text(steps: list[dict]) -> str:
    return json.dumps([s["result"] for s in steps])


def _kinds(service, cid: str) -> list[str]:
    return [r.kind for r in service.gate.audit.records() if r.conversation_id == cid]


def test_why_is_checkout_slow_names_the_injected_service_and_is_audited(tmp_path: Path) -> None:
    service, _ = make_service(tmp_path, ScriptedPlanner())
    reply = service.ask("why is checkout slow?", OPERATOR, "c-slow")
    assert reply.status == "answered"
    assert "paymentservice" in reply.text.splitlines()[0]  # the headline names the injected service
    tools = [s["tool"] for s in reply.steps]
    assert tools[:2] == ["query_metrics", "get_topology"] and len(tools) == 2 + 6  # checkout has 6 callees
    assert all(s["oversight"] == "logging" and s["risk"] == "low" for s in reply.steps)
    kinds = _kinds(service, "c-slow")
    assert kinds[0] == "request"
    assert kinds.count("proposal") == kinds.count("decision") == kinds.count("action_result") == len(tools)
    assert service.gate.audit.verify().ok


def test_final_answer_is_grounded_every_number_comes_from_a_tool_result(tmp_path: Path) -> None:
    planner = ScriptedPlanner(summary="Checkout p99 is 99999 ms because of paymentservice.")  # invented number
    service, _ = make_service(tmp_path, planner)
    reply = service.ask("why is checkout slow?", OPERATOR)
    nums = numbers_in(reply.text)
    assert len(nums) >= 10  # the answer does carry figures
    assert nums <= numbers_in(_results_text(reply.steps)), nums - numbers_in(_results_text(reply.steps))
    assert "99999" not in reply.text  # the ungrounded planner sentence was dropped


def test_grounded_planner_summary_is_kept(tmp_path: Path) -> None:
    service, _ = make_service(tmp_path, ScriptedPlanner(summary="paymentservice is the slow dependency."))
    reply = service.ask("why is checkout slow?", OPERATOR)
    assert "paymentservice is the slow dependency." in reply.text


def test_scale_checkout_to_zero_is_blocked_nothing_changes_and_the_user_is_told_why(tmp_path: Path) -> None:
    service, _ = make_service(tmp_path, ScriptedPlanner())
    sim = service.live.tools.sim
    before = sim.replicas.tolist()
    events_before = len(sim.events)
    reply = service.ask("scale checkout to 0", OPERATOR, "c-zero")
    step = reply.steps[0]
    assert step["tool"] == "scale_service" and step["result"]["status"] == "denied"
    assert step["oversight"] == "blocking" and step["risk"] == "critical"
    assert sim.replicas.tolist() == before and len(sim.events) == events_before
    assert reply.text.startswith("I did not run scale_service:")
    assert "0" in reply.text and step["result"]["error"] in reply.text
    kinds = _kinds(service, "c-zero")
    assert "action_started" not in kinds and kinds.count("decision") == 1


def test_restart_waits_for_approval_viewer_cannot_approve_approver_can_runs_once(tmp_path: Path) -> None:
    from governance.approvals import ApprovalError

    service, _ = make_service(tmp_path, ScriptedPlanner(), autonomy=3)
    sim = service.live.tools.sim
    reply = service.ask("restart cartservice", OPERATOR, "c-restart")
    assert reply.status == "waiting_approval"
    pending = reply.pending[0]
    assert pending["tool"] == "restart_service" and pending["oversight"] == "approval"
    assert "needs approval" in reply.text
    assert not [e for e in sim.events if e.kind == "restart"]
    approval_id = pending["approval_id"]
    with pytest.raises(ApprovalError) as e:
        service.decide(approval_id, VIEWER, approve=True)
    assert e.value.code == "forbidden"
    done = service.decide(approval_id, APPROVER, approve=True, note="go")
    assert done.status == "answered"
    restarts = [e for e in sim.events if e.kind == "restart" and e.service == "cartservice"]
    assert len(restarts) == 1
    step = done.steps[-1]
    assert step["result"]["status"] == "ok" and step["approved_by"] == "abe"
    assert "approved by abe" in done.text
    # the action cannot run a second time: the gate returns the recorded result
    again = service.gate.run_approved(approval_id, service.live.tools)
    assert again.status == "ok" and len([e for e in sim.events if e.kind == "restart"]) == 1
    kinds = [r.kind for r in service.gate.audit.records() if r.action_id == approval_id]
    assert kinds.count("action_started") == 1 and "approval" in kinds


def test_denied_approval_never_runs_and_the_agent_says_so(tmp_path: Path) -> None:
    service, _ = make_service(tmp_path, ScriptedPlanner())
    reply = service.ask("restart cartservice", OPERATOR)
    done = service.decide(reply.pending[0]["approval_id"], APPROVER, approve=False, note="not now")
    assert done.steps[-1]["result"]["status"] == "denied"
    assert "denied by abe: not now" in done.text
    assert not [e for e in service.live.tools.sim.events if e.kind == "restart"]


def test_new_message_while_waiting_for_approval_is_refused(tmp_path: Path) -> None:
    from agent.service import ConversationBusy

    service, _ = make_service(tmp_path, ScriptedPlanner())
    reply = service.ask("restart cartservice", OPERATOR, "c-wait")
    with pytest.raises(ConversationBusy, match=reply.pending[0]["approval_id"]):
        service.ask("why is checkout slow?", OPERATOR, "c-wait")


def test_repeated_identical_call_stops_the_loop(tmp_path: Path) -> None:
    q = call("query_metrics", {"service": "checkout", "metric": "latency_p99", "window": "30m"})
    q2 = call("query_metrics", {"service": "checkoutservice", "metric": "latency_p99", "window": "30m"})
    service, _ = make_service(tmp_path, ScriptedPlanner(script=[q, q2, q]))
    reply = service.ask("how is checkout?", OPERATOR)
    assert len(reply.steps) == 1
    assert "same arguments again" in reply.text


def test_step_limit_caps_the_loop(tmp_path: Path) -> None:
    script = [call("query_metrics", {"service": s, "metric": "cpu"}) for s in
              ("frontend", "cartservice", "adservice", "emailservice", "paymentservice")]
    service, _ = make_service(tmp_path, ScriptedPlanner(script=script), step_limit=3)
    reply = service.ask("check cpu everywhere", OPERATOR)
    assert len(reply.steps) == 3
    assert "step limit" in reply.text


class _Broken:
    name = "broken"

    def plan(self, request, history=(), context=None):
        raise RuntimeError("model file missing")

    def summarize(self, findings):
        return ""


def test_planner_that_cannot_plan_is_reported_honestly(tmp_path: Path) -> None:
    service, _ = make_service(tmp_path, _Broken())
    reply = service.ask("why is checkout slow?", OPERATOR)
    assert reply.steps == [] and "could not plan" in reply.text and "model file missing" in reply.text
    service2, _ = make_service(tmp_path / "b", ScriptedPlanner(script=[call("query_metrics", {}, ok=False)]))
    reply2 = service2.ask("why is checkout slow?", OPERATOR)
    assert reply2.steps == [] and "could not plan" in reply2.text


def test_invalid_planned_arguments_become_an_error_step_not_a_crash(tmp_path: Path) -> None:
    service, _ = make_service(tmp_path, ScriptedPlanner(script=[call("query_metrics", {"service": "nope"})]))
    reply = service.ask("what about nope?", OPERATOR)
    assert reply.steps[0]["result"]["status"] == "error"
    assert "unknown service" in reply.text


def test_stream_yields_steps_as_they_happen_then_the_answer(tmp_path: Path) -> None:
    service, _ = make_service(tmp_path, ScriptedPlanner(), step_limit=10)
    kinds = [ev.kind for ev in service.stream("why is checkout slow?", OPERATOR)]
    assert kinds[0] == "turn" and kinds[-1] == "answer"
    assert kinds.count("step") == 8 and kinds.count("plan") == 9
    assert kinds.index("step") < kinds.index("answer")
