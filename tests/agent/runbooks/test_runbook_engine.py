"""The runbook engine on a real gate and the simulator: dry-run runs nothing, every step is governed and
audited, failures stop the run (unless on_failure says otherwise), approvals pause it and it resumes,
also from a fresh process, and the run_runbook tool."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.runbooks.engine import RunbookEngine
from agent.runbooks.model import Library, RunbookError
from agent.runbooks.store import RunStore
from governance.audit import SqliteAuditStore
from governance.gate import Principal
from tests.agent.runbooks.test_runbook_fixtures import ALICE, BOB, make_engine, make_gate, sim_at
from tools.backends.sim.faults import Fault
from tools.registry import call_tool


def _library(tmp_path: Path, *books: dict[str, Any]) -> Library:
    d = tmp_path / "books"
    d.mkdir(exist_ok=True)
    for b in books:
        (d / f"{b['name']}.yaml").write_text(yaml.safe_dump(b))
    return Library([d])


def _book(name: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": name, "description": f"{name} test", "steps": steps,
            "parameters": {"service": {"type": "service", "required": True}}}


SCALE_UP = {"id": "scale", "tool": "scale_service",
            "args": {"service": "{{ params.service }}", "replicas": "{{ int(steps.replicas.data.current) + 1 }}"}}
REPLICAS = {"id": "replicas", "tool": "query_metrics",
            "args": {"service": "{{ params.service }}", "metric": "replicas", "window": "5m"}}


def test_dry_run_plans_with_oversight_and_runs_nothing(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    sim, ctx = sim_at(30)
    before = (sim.minute, sim.replicas.copy(), len(sim.events), engine.gate.audit.head())
    plan = engine.plan("error-spike", {"service": "cart"}, ALICE, ctx)
    assert plan["dry_run"] and plan["params"]["service"] == "cartservice"
    steps = {s["id"]: s for s in plan["steps"]}
    assert list(steps) == [s.id for s in Library().get("error-spike").steps]
    assert steps["errors_before"]["oversight"] == "logging" and steps["errors_before"]["decided"] == "now"
    assert steps["restart"]["oversight"] == "approval" and "at run time" in steps["restart"]["decided"]
    assert steps["rollback"]["risk"] == "high" and steps["settle"]["wait"] == "5m"
    assert steps["restart"]["condition"] == "decided at run time"
    after = (sim.minute, sim.replicas, len(sim.events), engine.gate.audit.head())
    assert before[0] == after[0] and (before[1] == after[1]).all() and before[2:] == after[2:]
    assert engine.store.list() == []


def test_dry_run_decides_resolved_write_steps_now(tmp_path: Path) -> None:
    lib = _library(tmp_path, _book("direct", [{"id": "scale", "tool": "scale_service",
                                                "args": {"service": "{{ params.service }}", "replicas": 0}}]))
    engine = RunbookEngine(make_gate(tmp_path), RunStore(tmp_path / "r.db"), lib)
    _, ctx = sim_at(5)
    step = engine.plan("direct", {"service": "checkout"}, ALICE, ctx)["steps"][0]
    assert step["risk"] == "critical" and step["oversight"] == "blocking" and step["decided"] == "now"


def test_every_step_is_governed_and_audited(tmp_path: Path) -> None:
    lib = _library(tmp_path, _book("grow", [REPLICAS, SCALE_UP]))
    engine = RunbookEngine(make_gate(tmp_path), RunStore(tmp_path / "r.db"), lib)
    sim, ctx = sim_at(10)
    run = engine.start("grow", {"service": "frontend"}, ALICE, ctx)
    assert run.status == "succeeded", run.reason
    read, scale = run.steps
    assert read.oversight == "logging" and scale.oversight == "notification" and scale.risk == "medium"
    assert scale.args == {"service": "frontend", "replicas": 4} and int(sim.replicas[0]) == 4
    assert read.audit_ids and scale.audit_ids and scale.action_id
    recs = {r.seq: r for r in engine.gate.audit.records()}
    kinds = [recs[s].kind for s in scale.audit_ids]
    assert kinds == ["proposal", "decision", "action_started", "action_result"]
    assert all(recs[s].conversation_id == run.id and recs[s].action_id == scale.action_id for s in scale.audit_ids)
    assert "runbook grow" in recs[scale.audit_ids[0]].data["rationale"]
    assert any(r.kind == "request" and r.conversation_id == run.id for r in recs.values())
    assert engine.gate.audit.verify().ok


def test_a_failing_step_stops_the_run_and_nothing_after_it_runs(tmp_path: Path) -> None:
    lib = _library(tmp_path, _book("stop", [
        {"id": "zero", "tool": "scale_service", "args": {"service": "{{ params.service }}", "replicas": 0}},
        {"id": "restart", "tool": "restart_service", "args": {"service": "{{ params.service }}"}},
    ]), _book("badref", [REPLICAS, {"id": "restart", "tool": "restart_service",
                                    "args": {"service": "{{ steps.replicas.data.owner }}"}}]))
    engine = RunbookEngine(make_gate(tmp_path), RunStore(tmp_path / "r.db"), lib)
    sim, ctx = sim_at(10)
    events = len(sim.events)
    run = engine.start("stop", {"service": "checkout"}, ALICE, ctx)
    assert run.status == "failed" and [s.id for s in run.steps] == ["zero"]
    assert run.steps[0].status == "denied" and run.steps[0].oversight == "blocking"
    assert run.reason and run.reason.startswith("step zero (scale_service) denied:") and "0 replicas" in run.reason
    assert len(sim.events) == events  # nothing ran
    stopped = [r for r in engine.gate.audit.records() if r.kind == "error" and r.conversation_id == run.id]
    assert len(stopped) == 1 and stopped[0].data["step"] == "zero" and "stopped: step zero" in stopped[0].data["error"]
    run = engine.start("badref", {"service": "checkout"}, ALICE, ctx)
    assert run.status == "failed" and run.steps[-1].error is not None
    assert "args: steps.replicas.data has no key 'owner'" in run.steps[-1].error
    assert engine.get_run(run.id).status == "failed"  # persisted with its reason


def test_on_failure_continue_and_jump(tmp_path: Path) -> None:
    lib = _library(tmp_path, _book("cont", [
        {"id": "zero", "tool": "scale_service", "args": {"service": "{{ params.service }}", "replicas": 0},
         "on_failure": "continue"}, REPLICAS]),
        _book("jump", [
            {"id": "zero", "tool": "scale_service", "args": {"service": "{{ params.service }}", "replicas": 0},
             "on_failure": "replicas"},
            {"id": "restart", "tool": "restart_service", "args": {"service": "{{ params.service }}"}},
            {"id": "wait", "wait": "1m"}, REPLICAS]))
    engine = RunbookEngine(make_gate(tmp_path), RunStore(tmp_path / "r.db"), lib)
    sim, ctx = sim_at(10)
    run = engine.start("cont", {"service": "checkout"}, ALICE, ctx)
    assert run.status == "completed_with_failures" and [s.status for s in run.steps] == ["denied", "ok"]
    assert "on_failure: continue" in run.steps[0].note and "step zero denied" in (run.reason or "")
    minute = sim.minute
    run = engine.start("jump", {"service": "checkout"}, ALICE, ctx)
    assert [(s.id, s.status) for s in run.steps] == [("zero", "denied"), ("restart", "skipped"), ("wait", "skipped"),
                                                     ("replicas", "ok")]
    assert sim.minute == minute and not [e for e in sim.events if e.kind == "restart"]


def test_when_false_skips_and_wait_advances_simulated_time(tmp_path: Path) -> None:
    lib = _library(tmp_path, _book("cond", [
        REPLICAS, {"id": "never", "tool": "restart_service", "when": "steps.replicas.data.current > 100",
                   "args": {"service": "{{ params.service }}"}},
        {"id": "wait", "wait": "3m", "when": "steps.never.status == 'skipped'"}]))
    engine = RunbookEngine(make_gate(tmp_path), RunStore(tmp_path / "r.db"), lib)
    sim, ctx = sim_at(10)
    run = engine.start("cond", {"service": "cart"}, ALICE, ctx)
    assert [s.status for s in run.steps] == ["ok", "skipped", "ok"] and sim.minute == 13
    assert "condition false" in run.steps[1].note and run.steps[1].audit_ids == []


def test_pause_on_approval_and_resume_after_a_restart(tmp_path: Path) -> None:
    sim, ctx = sim_at(40, Fault("memory_leak", "cartservice", 20, 200, 0.5))
    first = make_engine(tmp_path)
    run = first.start("memory-leak", {"service": "cart"}, ALICE, ctx)
    assert run.status == "paused" and run.pending is not None
    step = run.pending
    assert step.id == "restart" and step.oversight == "approval" and step.risk == "high" and step.approval_id
    assert not [e for e in sim.events if e.kind == "restart"]
    assert first.resume(run.id, ctx).status == "paused"  # still pending: nothing happens

    # a new process: fresh stores over the same files
    second = RunbookEngine(make_gate(tmp_path), RunStore(tmp_path / "runbooks.db"))
    with pytest.raises(Exception, match="may not approve"):  # requester cannot approve a high-risk action
        second.gate.approve(step.approval_id, Principal("alice", "approver"))
    second.gate.approve(step.approval_id, BOB, "restart it")
    resumed = second.resume_for_approval(step.approval_id, ctx)
    assert resumed is not None and resumed.id == run.id
    restart = resumed.step("restart")
    assert restart is not None and restart.status == "ok" and restart.approved_by == "bob"
    assert [e.kind for e in sim.events if e.kind == "restart"] == ["restart"]
    assert restart.action_id == step.approval_id and len(restart.audit_ids) >= 4
    assert resumed.step("memory_after") is not None and resumed.status in ("succeeded", "completed_with_failures")
    assert second.resume(run.id, ctx).status == resumed.status  # finished runs stay finished
    assert SqliteAuditStore(tmp_path / "audit.db").verify().ok


def test_denied_approval_stops_the_run(tmp_path: Path) -> None:
    sim, ctx = sim_at(40, Fault("crash", "cartservice", 20, 200))
    engine = make_engine(tmp_path)
    run = engine.start("error-spike", {"service": "cartservice"}, ALICE, ctx)
    assert run.status == "paused" and run.pending is not None
    engine.gate.deny(run.pending.approval_id, BOB, "not now")
    run = engine.resume(run.id, ctx)
    assert run.status == "failed" and run.steps[-1].id == "restart" and run.steps[-1].status == "denied"
    assert "was denied by bob: not now" in (run.reason or "")
    assert not [e for e in sim.events if e.kind == "restart"] and sim.active_faults()


def test_a_paused_run_is_claimed_once(tmp_path: Path) -> None:
    _, ctx = sim_at(40, Fault("crash", "cartservice", 20, 200))
    engine = make_engine(tmp_path)
    run = engine.start("error-spike", {"service": "cartservice"}, ALICE, ctx)
    assert engine.store.claim_paused(run.id) and not engine.store.claim_paused(run.id)


def test_unknown_runbook_and_run(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    _, ctx = sim_at(5)
    with pytest.raises(RunbookError, match="available: bad-deploy, error-spike, high-latency, memory-leak"):
        engine.start("nope", {"service": "cart"}, ALICE, ctx)
    with pytest.raises(RunbookError, match="unknown run 'rb-x'"):
        engine.resume("rb-x", ctx)
    with pytest.raises(RunbookError, match="parameter service is required"):
        engine.plan("high-latency", {}, ALICE, ctx)


def test_run_runbook_tool_needs_the_engine_in_the_context(tmp_path: Path) -> None:
    _, ctx = sim_at(5)
    r = call_tool("run_runbook", {"name": "memory-leak", "service": "cart"}, ctx)
    assert r.status == "error" and "ctx.deps.runbooks" in (r.error or "") and r.code == "not_configured"


def test_run_runbook_tool_through_the_gate(tmp_path: Path) -> None:
    sim, ctx = sim_at(40, Fault("memory_leak", "cartservice", 20, 200, 0.5))
    engine = make_engine(tmp_path)
    ctx = ctx.with_deps(runbooks=engine.bind(ALICE))
    outer = engine.gate.execute("run_runbook", {"name": "memory-leak", "service": "cart"}, ctx, ALICE,
                                "operator asked for the memory-leak runbook")
    assert outer.status == "pending_approval" and outer.data["tool"] == "run_runbook"
    engine.gate.approve(outer.data["approval_id"], BOB)
    inner = engine.gate.run_approved(outer.data["approval_id"], ctx)
    assert inner.status == "pending_approval" and inner.data["tool"] == "restart_service"
    assert inner.data["runbook"] == "memory-leak" and inner.data["run_id"].startswith("rb-")
    engine.gate.approve(inner.data["approval_id"], BOB)
    done = engine.resume_for_approval(inner.data["approval_id"], ctx)
    assert done is not None and done.step("restart").status == "ok"  # type: ignore[union-attr]
    assert not sim.active_faults()


def test_concurrent_resumes_run_the_rest_once(tmp_path: Path) -> None:
    import threading

    sim, ctx = sim_at(40, Fault("memory_leak", "cartservice", 20, 200, 0.5))
    engine = make_engine(tmp_path)
    run = engine.start("memory-leak", {"service": "cart"}, ALICE, ctx)
    assert run.pending is not None and run.pending.approval_id
    engine.gate.approve(run.pending.approval_id, BOB)
    minute = sim.minute
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(engine.resume(run.id, ctx).status)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and len(set(results)) == 1 and results[0] != "paused"
    assert len([e for e in sim.events if e.kind == "restart"]) == 1
    assert sim.minute == minute + 10  # the 10m settle wait ran once
    assert [s.id for s in engine.get_run(run.id).steps].count("memory_after") == 1
