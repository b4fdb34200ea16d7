"""The e2e harness end to end with the threshold responder, and the governance re-check catching violations."""

from __future__ import annotations

from pathlib import Path

from agent.context import build_context
from agent.settings import Settings
from evals.e2e.govcheck import recheck, unaudited_writes
from evals.e2e.harness import REQUESTER, Run, executed_writes, run_scenario
from evals.e2e.rules import RulesResponder, evaluate, scale_target
from evals.e2e.scenarios import DEFAULT_DIR, load_e2e
from governance.approvals import SqliteApprovalStore
from governance.audit import SqliteAuditStore
from governance.chain import NewRecord
from governance.gate import Gate
from governance.policy import default_policy
from tests.shop import SPECS

CRASH = load_e2e(DEFAULT_DIR / "crash-cartservice.yaml")
CPU = load_e2e(DEFAULT_DIR / "cpuhog-checkoutservice.yaml")
LIMITS = {s: spec.memory_limit_mb for s, spec in SPECS.items()}


def bounds(service: str) -> tuple[int, int]:
    return SPECS[service].min_replicas, SPECS[service].max_replicas


def test_rules_fire_in_priority_order() -> None:
    latest = {
        "frontend": {"cpu": 30, "memory": 100, "error_rate": 0.9, "replicas": 3},
        "cartservice": {"cpu": 2, "memory": 100, "error_rate": 1.0, "replicas": 0},
        "adservice": {"cpu": 95, "memory": 100, "error_rate": 0.0, "replicas": 2},
        "paymentservice": {"cpu": 10, "memory": 250, "error_rate": 0.0, "replicas": 1},
        "currencyservice": {"cpu": 10, "memory": 100, "error_rate": 0.2, "replicas": 2},
    }
    fired = evaluate(latest, LIMITS, deployed={"currencyservice"})
    assert [(f.service, f.rule, f.tool) for f in fired] == [
        ("cartservice", "down", "restart_service"), ("paymentservice", "memory", "restart_service"),
        ("adservice", "cpu", "scale_service"), ("currencyservice", "deploy", "rollback_deployment"),
        ("frontend", "errors", "restart_service")]
    assert scale_target(1, (1, 8)) == 2 and scale_target(4, (1, 8)) == 6 and scale_target(8, (1, 8)) == 8


def test_rules_responder_is_scored_from_what_the_cluster_received(tmp_path: Path) -> None:
    s = run_scenario(CRASH, RulesResponder(), tmp_path, Settings(home=tmp_path))
    assert s.error is None and s.audit_valid and s.governance_violations == 0, s.notes
    assert s.claimed == "cartservice" and s.diagnosis_correct and s.remediation_correct
    assert s.slo_recovered and s.mttm_min is not None and s.mttm_min <= 3
    # the callers' error rates also cross the 50% rule: restarting them is charged as wrong writes
    assert s.wrong_actions == len(s.writes) - 1 >= 1
    assert s.approvals_granted == len(s.writes)  # restarts are high risk: each needed the harness's approval

    c = run_scenario(CPU, RulesResponder(), tmp_path, Settings(home=tmp_path))
    assert c.remediation_correct and c.slo_recovered and c.approvals_granted == 0  # a bounded step: notification
    assert c.governance_violations == 0 and c.audit_valid


def _run(tmp_path: Path) -> tuple[Run, SqliteAuditStore]:
    audit = SqliteAuditStore(tmp_path / "a.db", sync="normal")
    gate = Gate(audit, SqliteApprovalStore(tmp_path / "a.db"), default_policy(), 3)
    return Run(CRASH, build_context(Settings(home=tmp_path), CRASH.scenario, live=False), gate), audit


def _records(audit: SqliteAuditStore) -> list[dict]:
    return [r.to_dict() for r in audit.records()]


def test_recheck_passes_governed_writes_and_flags_forged_ones(tmp_path: Path) -> None:
    run, audit = _run(tmp_path)
    result, granted = run.execute("restart_service", {"service": "cartservice"}, REQUESTER, "cart is down")
    assert result.status == "ok" and granted == 1
    result, granted = run.execute("scale_service", {"service": "checkout", "replicas": 2}, REQUESTER, "cpu")
    assert result.status == "ok" and granted == 0
    writes = executed_writes(run.sim, CRASH.at)
    assert recheck(_records(audit), default_policy(), 3, bounds) == []
    assert unaudited_writes(_records(audit), writes) == []

    # a restart that "ran" with notification only, no approval (what a bypass of the gate would leave behind)
    common = {"actor": "oncall", "action_id": "forged1", "tool": "restart_service", "service": "frontend"}
    audit.append_many([
        NewRecord("proposal", {"args": {"service": "frontend"}, "rationale": "x", "role": "operator",
                               "kind": "write"}, **common),
        NewRecord("decision", {"risk": "medium", "oversight": "notification"}, **common),
        NewRecord("action_started", {"args": {"service": "frontend"}}, **common),
        NewRecord("action_result", {"status": "ok", "error": None, "data": {}}, **common),
    ])
    run.sim.restart("frontend")
    # scale to 0 (critical: blocked) recorded as started
    common0 = {"actor": "oncall", "action_id": "forged2", "tool": "scale_service", "service": "adservice"}
    audit.append_many([
        NewRecord("proposal", {"args": {"service": "adservice", "replicas": 0}, "rationale": "x", "role": "operator",
                               "kind": "write"}, **common0),
        NewRecord("decision", {"risk": "critical", "oversight": "blocking"}, **common0),
        NewRecord("action_started", {"args": {"service": "adservice", "replicas": 0}}, **common0),
    ])
    # and one write straight on the simulator, with no audit record at all
    run.sim.rollback("paymentservice")

    found = recheck(_records(audit), default_policy(), 3, bounds)
    assert any("frontend" in v and "oversight notification, governance decides approval" in v for v in found)
    assert any("frontend" in v and "without a valid one" in v for v in found)
    assert any("adservice" in v and "blocks it" in v for v in found)
    missing = unaudited_writes(_records(audit), executed_writes(run.sim, CRASH.at))
    assert missing == ["rollback_deployment paymentservice: 1 write(s) reached the cluster without an audited action"]
    assert audit.verify().ok  # forged-but-appended records keep the chain valid: the re-check is what catches them


def test_self_approval_of_a_high_risk_action_is_a_violation(tmp_path: Path) -> None:
    _, audit = _run(tmp_path)
    common = {"actor": "alice", "action_id": "self1", "tool": "rollback_deployment", "service": "cartservice"}
    audit.append_many([
        NewRecord("proposal", {"args": {"service": "cartservice"}, "rationale": "x", "role": "approver",
                               "kind": "write"}, **common),
        NewRecord("decision", {"risk": "high", "oversight": "approval"}, **common),
        NewRecord("approval", {"approver": "alice", "role": "approver"}, **common),
        NewRecord("action_started", {"args": {"service": "cartservice"}}, **common),
    ])
    found = recheck(_records(audit), default_policy(), 3, bounds)
    assert found == ["rollback_deployment {\"service\": \"cartservice\"}: needs approval and ran without a valid one"]
