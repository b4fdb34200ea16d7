"""The gate end to end on the simulator: what runs, what waits, what is refused, and what the audit log holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from governance.approvals import ApprovalError, SqliteApprovalStore
from governance.audit import SqliteAuditStore
from governance.gate import Gate, Principal
from governance.policy import Policy, default_policy, load_policy
from tests.shop import IDX
from tools.backends.base import Point, ToolContext
from tools.backends.sim.cluster import Simulator
from tools.backends.sim_backend import SimBackend, sim_context

ALICE = Principal("alice", "operator")
BOB = Principal("bob", "approver")
WHY = "checkout p99 is above its SLO"


class Clock:
    def __init__(self, t: float = 1_800_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def sim() -> Simulator:
    s = Simulator(seed=1)
    s.run_until(30)
    return s


@pytest.fixture
def ctx(sim: Simulator) -> ToolContext:
    return sim_context(sim)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_gate(tmp_path: Path, clock: Clock, autonomy: int = 3, policy: Policy | None = None,
              notify: Any = None) -> Gate:
    db = tmp_path / "audit.db"
    return Gate(SqliteAuditStore(db, sync="normal", clock=clock), SqliteApprovalStore(db), policy or default_policy(),
                autonomy, notify, clock=clock)


def kinds(gate: Gate, action_id: str | None = None) -> list[str]:
    return [r.kind for r in gate.audit.records() if action_id is None or r.action_id == action_id]


def replicas(sim: Simulator, service: str) -> int:
    return int(sim.replicas[IDX[service]])


# ------------------------------------------------------------------ execute


def test_read_is_decided_and_audited_cheaply(tmp_path: Path, ctx: ToolContext, clock: Clock) -> None:
    gate = make_gate(tmp_path, clock)
    r = gate.execute("query_metrics", {"service": "checkout", "metric": "latency_p99"}, ctx, ALICE, WHY)
    assert r.status == "ok" and r.data["service"] == "checkoutservice"
    assert kinds(gate) == ["proposal", "decision", "action_result"]
    records = list(gate.audit.records())
    assert records[1].data["risk"] == "low" and records[1].data["oversight"] == "logging"
    assert "data_sha256" in records[2].data and "data" not in records[2].data
    assert gate.audit.verify().ok


def test_bad_input_records_nothing(tmp_path: Path, ctx: ToolContext, clock: Clock) -> None:
    gate = make_gate(tmp_path, clock)
    r = gate.execute("scale_service", {"service": "cart", "replicas": "many"}, ctx, ALICE, WHY)
    assert r.status == "error" and "replicas" in (r.error or "")
    r = gate.execute("drop_database", {}, ctx, ALICE, WHY)
    assert r.status == "error" and "allowed" in (r.error or "")
    assert kinds(gate) == []


def test_medium_runs_with_notification(tmp_path: Path, sim: Simulator, ctx: ToolContext, clock: Clock) -> None:
    sent: list[dict] = []
    gate = make_gate(tmp_path, clock, notify=sent.append)
    r = gate.execute("scale_service", {"service": "cart", "replicas": 3}, ctx, ALICE, WHY, conversation_id="c-1")
    assert r.status == "ok" and replicas(sim, "cartservice") == 3
    assert kinds(gate) == ["proposal", "decision", "action_started", "action_result"]
    assert len(sent) == 1 and sent[0]["event"] == "notification" and sent[0]["risk"] == "medium"
    assert sent[0]["conversation_id"] == "c-1" and sent[0]["principal"] == "alice"
    records = list(gate.audit.records())
    assert {rec.action_id for rec in records} == {sent[0]["action_id"]}
    assert records[0].data["rationale"] == WHY and records[0].actor == "alice"
    assert records[3].data["data"] == {"service": "cartservice", "previous_replicas": 2, "replicas": 3}
    report = gate.audit.verify()
    assert report.ok and report.incomplete == []


def test_failing_notification_is_recorded_and_the_action_still_runs(tmp_path: Path, sim: Simulator,
                                                                    ctx: ToolContext, clock: Clock) -> None:
    def broken(_: dict) -> None:
        raise ConnectionError("slack unreachable")

    gate = make_gate(tmp_path, clock, notify=broken)
    r = gate.execute("scale_service", {"service": "cart", "replicas": 3}, ctx, ALICE, WHY)
    assert r.status == "ok"
    assert kinds(gate) == ["proposal", "decision", "action_started", "error", "action_result"]
    assert "slack unreachable" in list(gate.audit.records())[3].data["error"]


def test_critical_is_denied_and_nothing_runs(tmp_path: Path, sim: Simulator, ctx: ToolContext, clock: Clock) -> None:
    gate = make_gate(tmp_path, clock, autonomy=5)
    for args in ({"service": "cart", "replicas": 0}, {"service": "cart", "replicas": 50}):
        r = gate.execute("scale_service", args, ctx, ALICE, WHY)
        assert r.status == "denied" and r.data["risk"] == "critical" and r.data["oversight"] == "blocking"
    r = gate.execute("restart_service", {"service": "redis-cart"}, ctx, ALICE, WHY)
    assert r.status == "denied" and "protected" in (r.error or "")
    assert replicas(sim, "cartservice") == 2
    assert "action_started" not in kinds(gate) and gate.approvals.list() == []


def test_viewer_cannot_act(tmp_path: Path, sim: Simulator, ctx: ToolContext, clock: Clock) -> None:
    gate = make_gate(tmp_path, clock)
    r = gate.execute("scale_service", {"service": "cart", "replicas": 3}, ctx, Principal("vic", "viewer"), WHY)
    assert r.status == "denied" and replicas(sim, "cartservice") == 2


def test_scale_uses_the_simulators_current_replicas(tmp_path: Path, sim: Simulator, ctx: ToolContext,
                                                    clock: Clock) -> None:
    gate = make_gate(tmp_path, clock)
    sim.scale("cartservice", 6)
    d = gate.explain("scale_service", {"service": "cart", "replicas": 8}, ctx, ALICE, WHY)
    assert d.risk == "medium" and "6 -> 8" in d.reasons[0]
    d = gate.explain("scale_service", {"service": "redis", "replicas": 4}, ctx, ALICE, WHY)
    assert d.risk == "critical"  # protected (and above redis-cart's max of 3)


def test_other_backends_read_replicas_through_metrics(tmp_path: Path, sim: Simulator, clock: Clock) -> None:
    b = SimBackend(sim)

    class Metrics:
        name = "fake-prometheus"

        def series(self, service: str, metric: str, window_s: int) -> list[Point]:
            assert metric == "replicas"
            return [Point(0.0, 4.0)]

    class DownMetrics(Metrics):
        def series(self, service: str, metric: str, window_s: int) -> list[Point]:
            raise TimeoutError("prometheus down")

    gate = make_gate(tmp_path, clock)
    ctx = ToolContext(metrics=Metrics(), logs=b, topology=b, actions=b)
    d = gate.explain("scale_service", {"service": "cart", "replicas": 6}, ctx, ALICE, WHY)
    assert d.risk == "medium" and "4 -> 6" in d.reasons[0]
    ctx = ToolContext(metrics=DownMetrics(), logs=b, topology=b, actions=b)
    d = gate.explain("scale_service", {"service": "cart", "replicas": 6}, ctx, ALICE, WHY)
    assert d.risk == "high" and "unknown" in d.reasons[0]


def test_rate_limit_uses_the_audit_history(tmp_path: Path, sim: Simulator, ctx: ToolContext, clock: Clock) -> None:
    gate = make_gate(tmp_path, clock, autonomy=5)
    for n in (3, 4, 5):
        assert gate.execute("scale_service", {"service": "cart", "replicas": n}, ctx, ALICE, WHY).status == "ok"
        clock.t += 60
    r = gate.execute("scale_service", {"service": "cart", "replicas": 6}, ctx, ALICE, WHY)
    assert r.status == "pending_approval" and any("rate limit" in x for x in r.data["reasons"])
    # other services are not limited, and the window slides
    assert gate.execute("scale_service", {"service": "frontend", "replicas": 4}, ctx, ALICE, WHY).status == "ok"
    clock.t += 600
    assert gate.execute("scale_service", {"service": "cart", "replicas": 6}, ctx, ALICE, WHY).status == "ok"


# ------------------------------------------------------------------ approvals


def test_high_risk_waits_for_another_approver_and_runs_once(tmp_path: Path, sim: Simulator, ctx: ToolContext,
                                                            clock: Clock) -> None:
    sent: list[dict] = []
    gate = make_gate(tmp_path, clock, notify=sent.append)
    r = gate.execute("scale_service", {"service": "cart", "replicas": 6}, ctx, ALICE, WHY, conversation_id="c-9")
    assert r.status == "pending_approval"
    assert set(r.data) >= {"approval_id", "tool", "args", "risk", "oversight", "reasons"}
    aid = r.data["approval_id"]
    assert r.data["risk"] == "high" and replicas(sim, "cartservice") == 2
    assert sent[-1]["event"] == "approval_requested" and sent[-1]["approval_id"] == aid
    pending = gate.pending()
    assert [a.id for a in pending] == [aid] and pending[0].conversation_id == "c-9"

    with pytest.raises(ApprovalError) as e:
        gate.approve(aid, Principal("olga", "operator"))
    assert e.value.code == "forbidden" and "only role approver" in str(e.value)
    with pytest.raises(ApprovalError) as e:
        gate.approve(aid, Principal("alice", "approver"))  # the requester, even as an approver
    assert e.value.code == "self_approval"
    assert gate.run_approved(aid, ctx).status == "denied"  # still pending

    a = gate.approve(aid, BOB, "go")
    assert a.status == "approved" and a.decided_by == "bob" and a.decided_at == clock.t
    with pytest.raises(ApprovalError) as e:
        gate.deny(aid, Principal("carol", "approver"))
    assert e.value.code == "already_decided"

    first = gate.run_approved(aid, ctx)
    assert first.status == "ok" and replicas(sim, "cartservice") == 6
    sim.scale("cartservice", 2)
    second = gate.run_approved(aid, ctx)
    assert second == first and replicas(sim, "cartservice") == 2  # not run again
    assert kinds(gate, aid) == ["proposal", "decision", "approval", "decision", "action_started", "action_result"]
    approval_rec = [rec for rec in gate.audit.records() if rec.kind == "approval"][0]
    assert approval_rec.actor == "bob" and approval_rec.data["note"] == "go"
    assert gate.audit.verify().ok


def test_self_approval_of_medium_is_allowed_by_default_and_can_be_forbidden(tmp_path: Path, ctx: ToolContext,
                                                                           clock: Clock) -> None:
    me = Principal("ann", "approver")
    gate = make_gate(tmp_path, clock, autonomy=1)
    aid = gate.execute("scale_service", {"service": "cart", "replicas": 3}, ctx, me, WHY).data["approval_id"]
    assert gate.approve(aid, me).status == "approved"
    strict = load_policy(overrides={"approvals": {"self_approval_max_risk": "none"}})
    gate = make_gate(tmp_path / "2", clock, autonomy=1, policy=strict)
    aid = gate.execute("scale_service", {"service": "cart", "replicas": 3}, ctx, me, WHY).data["approval_id"]
    with pytest.raises(ApprovalError, match="may not approve"):
        gate.approve(aid, me)
    loose = load_policy(overrides={"approvals": {"self_approval_max_risk": "high"}})
    gate = make_gate(tmp_path / "3", clock, policy=loose)
    aid = gate.execute("restart_service", {"service": "cart"}, ctx, me, WHY).data["approval_id"]
    assert gate.approve(aid, me).status == "approved"


def test_denied_never_runs(tmp_path: Path, sim: Simulator, ctx: ToolContext, clock: Clock) -> None:
    gate = make_gate(tmp_path, clock)
    aid = gate.execute("restart_service", {"service": "payment"}, ctx, ALICE, WHY).data["approval_id"]
    a = gate.deny(aid, BOB, "not during the sale")
    assert a.status == "denied" and a.note == "not during the sale"
    r = gate.run_approved(aid, ctx)
    assert r.status == "denied" and "denied" in (r.error or "")
    with pytest.raises(ApprovalError) as e:
        gate.approve(aid, Principal("carol", "approver"))
    assert e.value.code == "already_decided"
    assert "action_started" not in kinds(gate) and "denial" in kinds(gate)
    assert not any(e.kind == "restart" for e in sim.events)


def test_pending_approvals_expire(tmp_path: Path, ctx: ToolContext, clock: Clock) -> None:
    gate = make_gate(tmp_path, clock)
    aid = gate.execute("rollback_deployment", {"service": "checkout"}, ctx, ALICE, WHY).data["approval_id"]
    clock.t += 29 * 60
    assert gate.pending()[0].id == aid
    clock.t += 2 * 60
    with pytest.raises(ApprovalError) as e:
        gate.approve(aid, BOB)
    assert e.value.code == "expired"
    assert gate.approvals.get(aid).status == "expired"  # type: ignore[union-attr]
    assert gate.run_approved(aid, ctx).status == "denied"
    assert kinds(gate, aid).count("expiry") == 1 and "action_started" not in kinds(gate, aid)


def test_approval_is_rechecked_against_the_current_policy(tmp_path: Path, sim: Simulator, ctx: ToolContext,
                                                         clock: Clock) -> None:
    gate = make_gate(tmp_path, clock)
    aid = gate.execute("restart_service", {"service": "payment"}, ctx, ALICE, WHY).data["approval_id"]
    gate.approve(aid, BOB)
    now_protected = load_policy(overrides={"risk": {"protected_services": ["paymentservice"]}})
    later = Gate(gate.audit, gate.approvals, now_protected, 3, clock=clock)
    r = later.run_approved(aid, ctx)
    assert r.status == "denied" and "re-checked" in (r.error or "")
    assert not any(e.kind == "restart" for e in sim.events)
    assert gate.run_approved(aid, ctx).status == "ok"  # under the old policy it still may run, once


def test_run_runbook_needs_approval(tmp_path: Path, ctx: ToolContext, clock: Clock) -> None:
    gate = make_gate(tmp_path, clock, autonomy=4)
    r = gate.execute("run_runbook", {"name": "high-latency", "service": "payment"}, ctx, ALICE, WHY)
    assert r.status == "pending_approval" and r.data["risk"] == "high"


def test_unknown_approval(tmp_path: Path, ctx: ToolContext, clock: Clock) -> None:
    gate = make_gate(tmp_path, clock)
    with pytest.raises(ApprovalError) as e:
        gate.approve("nope", BOB)
    assert e.value.code == "not_found"
    assert gate.run_approved("nope", ctx).status == "denied"


def test_record_request_and_error(tmp_path: Path, clock: Clock) -> None:
    gate = make_gate(tmp_path, clock)
    gate.record_request("checkout is slow", ALICE, "c-1", channel="slack")
    gate.record_error("planner failed", ALICE, "c-1", stage="plan")
    assert kinds(gate) == ["request", "error"] and gate.audit.verify().ok


class CountingActions:
    """An action target that counts restarts and, while running, looks at the audit log from outside."""

    name = "counting"

    def __init__(self, db: Path, delay: float = 0.0) -> None:
        self.db, self.delay, self.restarts, self.started_seen = db, delay, 0, []

    def scale(self, service: str, replicas: int) -> dict[str, Any]:
        return {}

    def rollback(self, service: str) -> dict[str, Any]:
        return {}

    def restart(self, service: str) -> dict[str, Any]:
        import time

        from governance.audit import verify_sqlite

        time.sleep(self.delay)
        self.restarts += 1
        report = verify_sqlite(self.db)  # a separate connection: only committed records are visible
        self.started_seen.append([i.tool for i in report.incomplete])
        return {"service": service, "restarted_replicas": 1}


def test_action_started_is_durable_before_the_action_runs(tmp_path: Path, sim: Simulator, clock: Clock) -> None:
    b = SimBackend(sim)
    actions = CountingActions(tmp_path / "audit.db")
    ctx = ToolContext(metrics=b, logs=b, topology=b, actions=actions, sim=sim)
    gate = make_gate(tmp_path, clock, autonomy=5)
    assert gate.execute("restart_service", {"service": "cart"}, ctx, ALICE, WHY).status == "ok"
    assert actions.started_seen == [["restart_service"]]  # committed and visible while the action ran
    assert gate.audit.verify().incomplete == []  # and closed by its result afterwards


def test_concurrent_approvals_and_runs_happen_once(tmp_path: Path, sim: Simulator, clock: Clock) -> None:
    from concurrent.futures import ThreadPoolExecutor

    b = SimBackend(sim)
    actions = CountingActions(tmp_path / "audit.db", delay=0.05)
    ctx = ToolContext(metrics=b, logs=b, topology=b, actions=actions, sim=sim)
    gates = [make_gate(tmp_path, clock) for _ in range(4)]  # four connections, as four processes would have
    aid = gates[0].execute("restart_service", {"service": "cart"}, ctx, ALICE, WHY).data["approval_id"]

    def approve(i: int) -> str:
        try:
            return gates[i].approve(aid, Principal(f"approver{i}", "approver")).status
        except ApprovalError as e:
            return e.code

    with ThreadPoolExecutor(4) as pool:
        outcomes = sorted(pool.map(approve, range(4)))
    assert outcomes == ["already_decided"] * 3 + ["approved"]
    with ThreadPoolExecutor(4) as pool:
        runs = list(pool.map(lambda g: g.run_approved(aid, ctx), gates))
    assert actions.restarts == 1
    assert sum(r.status == "ok" for r in runs) >= 1
    assert all(r.status == "ok" or "already running" in (r.error or "") for r in runs)
    assert gates[0].run_approved(aid, ctx).status == "ok" and actions.restarts == 1
    assert kinds(gates[0], aid).count("action_started") == 1 and kinds(gates[0], aid).count("approval") == 1


def test_unwritable_audit_log_means_nothing_runs(tmp_path: Path, sim: Simulator, ctx: ToolContext,
                                                 clock: Clock) -> None:
    import sqlite3

    gate = make_gate(tmp_path, clock, autonomy=5)

    def fail(*_: Any, **__: Any) -> Any:
        raise sqlite3.OperationalError("disk I/O error")

    gate.audit.append_many = fail  # type: ignore[method-assign]
    r = gate.execute("scale_service", {"service": "cart", "replicas": 3}, ctx, ALICE, WHY)
    assert r.status == "error" and "audit log unavailable" in (r.error or "") and "not run" in (r.error or "")
    assert replicas(sim, "cartservice") == 2


def test_non_json_tool_data_is_recorded_as_text(tmp_path: Path, sim: Simulator, clock: Clock) -> None:
    import numpy as np

    b = SimBackend(sim)

    class NumpyActions(CountingActions):
        def rollback(self, service: str) -> dict[str, Any]:
            return {"service": service, "revision": np.int64(11), "took_s": np.float64(1.5)}

    ctx = ToolContext(metrics=b, logs=b, topology=b, actions=NumpyActions(tmp_path / "audit.db"), sim=sim)
    gate = make_gate(tmp_path, clock, autonomy=5)
    r = gate.execute("rollback_deployment", {"service": "cart"}, ctx, ALICE, WHY)
    assert r.status == "ok"
    result = [rec for rec in gate.audit.records() if rec.kind == "action_result"][0]
    assert result.data["data"] == {"service": "cartservice", "revision": "11", "took_s": 1.5}  # int64 -> text
    assert gate.audit.verify().ok
