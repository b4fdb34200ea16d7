"""AgentService across a process restart: a pending approval survives, is approved later, runs once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("agent.planner.base", reason="the planner package (agent/planner/base.py) is not in this tree")

from governance.gate import Principal
from tests.agent.fakes import ROOT, ScriptedPlanner, make_service

APPROVER = Principal("abe", "approver")

_ASK = """
import json, sys
from pathlib import Path
from governance.gate import Principal
from tests.agent.fakes import ScriptedPlanner, make_service
service, _ = make_service(Path(sys.argv[1]), ScriptedPlanner())
reply = service.ask("restart cartservice", Principal("olga", "operator"), "c-persist")
print(json.dumps({"status": reply.status, "approval_id": reply.pending[0]["approval_id"]}))
"""


def test_pending_approval_survives_a_process_restart_and_runs_exactly_once(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-c", _ASK, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, check=True)
    first = json.loads(out.stdout.strip().splitlines()[-1])
    assert first["status"] == "waiting_approval"
    approval_id = first["approval_id"]

    service, _ = make_service(tmp_path, ScriptedPlanner())  # a new process's service over the same KEEL_HOME
    assert service.reply("c-persist").status == "waiting_approval"
    assert service.conversation_of(approval_id) == "c-persist"  # found through the persisted approval
    done = service.decide(approval_id, APPROVER, approve=True)
    assert done.status == "answered" and done.steps[-1]["result"]["status"] == "ok"
    restarts = [e for e in service.live.tools.sim.events if e.kind == "restart"]
    assert len(restarts) == 1

    # a third process (or a retry) resuming the same approval does not run it again
    service2, _ = make_service(tmp_path, ScriptedPlanner(), live=False)
    again = service2.gate.run_approved(approval_id, service2.live.tools)
    assert again.status == "ok" and not [e for e in service2.live.tools.sim.events if e.kind == "restart"]
    started = [r for r in service2.gate.audit.records() if r.action_id == approval_id and r.kind == "action_started"]
    assert len(started) == 1
    assert service2.gate.audit.verify().ok


def test_turns_accumulate_in_the_conversation(tmp_path: Path) -> None:
    service, _ = make_service(tmp_path, ScriptedPlanner(), step_limit=10)
    op = Principal("olga", "operator")
    service.ask("why is checkout slow?", op, "c-two")
    service.ask("scale checkout to 0", op, "c-two")
    conv = service.conversation("c-two")
    assert [t["request"] for t in conv["turns"]] == ["why is checkout slow?", "scale checkout to 0"]
    assert conv["current"]["steps"][0]["tool"] == "scale_service"  # each turn starts with its own steps


def test_queue_full_is_refused_with_retry_after(tmp_path: Path) -> None:
    from agent.admission import Busy

    service, _ = make_service(tmp_path, ScriptedPlanner(), queue_size=1)
    op = Principal("olga", "operator")
    running = service.stream("why is checkout slow?", op)
    next(running)  # holds the only place
    try:
        second = service.stream("why is checkout slow?", op)
        try:
            next(second)
            raise AssertionError("expected Busy")
        except Busy as e:
            assert e.retry_after >= 1 and "queue is full" in str(e)
    finally:
        running.close()
    assert service.admission.active == 0
    assert service.ask("scale checkout to 0", op).status == "answered"


def test_approval_decided_through_another_channel_resumes_the_conversation(tmp_path: Path) -> None:
    service, _ = make_service(tmp_path, ScriptedPlanner())
    reply = service.ask("restart cartservice", Principal("olga", "operator"), "c-cli")
    aid = reply.pending[0]["approval_id"]
    service.gate.approve(aid, APPROVER, "via the CLI")  # e.g. `keel approvals approve`
    done = service.decide(aid, Principal("ann", "approver"), approve=True)
    assert done.status == "answered" and done.steps[-1]["approved_by"] == "abe"
    assert len([e for e in service.live.tools.sim.events if e.kind == "restart"]) == 1


def test_per_conversation_bookkeeping_does_not_grow_with_finished_turns(tmp_path: Path) -> None:
    service, _ = make_service(tmp_path, ScriptedPlanner())
    op = Principal("olga", "operator")
    for i in range(5):
        service.ask("why is checkout slow?", op, f"c-many-{i}")
    pending = service.ask("restart cartservice", op, "c-wait")
    assert pending.status == "waiting_approval"
    assert service._conv_locks == {}  # no turn running: no lock kept for any of the six conversations
    service.decide(pending.pending[0]["approval_id"], APPROVER, approve=True)
    assert service._conv_locks == {} and service.approval_threads == {}
