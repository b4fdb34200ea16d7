"""PostgreSQL audit log, approvals and LangGraph checkpoints on a real server started for the tests."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from agent.checkpoint import checkpointer_from_settings, close_checkpointer
from config.settings import get_settings
from governance.approvals import Approval, ApprovalError
from governance.audit import SqliteAuditStore
from governance.chain import NewRecord
from governance.gate import Gate, Principal
from governance.policy import load_policy
from governance.postgres import PostgresApprovalStore, PostgresAuditStore, PostgresStoreError, verify_postgres
from governance.stores import open_stores
from tests.backends.servers import ROOT, free_port
from tools.backends.sim.scenario import Scenario
from tools.backends.sim_backend import sim_context


def approval(aid: str, now: float, ttl: float = 600) -> Approval:
    return Approval(id=aid, tool="restart_service", args={"service": "cartservice"}, risk="high",
                    oversight="approval", reasons=("restart",), requested_by="alice", requested_role="operator",
                    rationale="stuck", created_at=now, expires_at=now + ttl, service="cartservice")


def test_appends_chain_and_verify(pg_url: str) -> None:
    with PostgresAuditStore(pg_url) as log:
        first = log.append(NewRecord("request", {"text": "hi"}, actor="alice"))
        rest = log.append_many([NewRecord("proposal", {"n": i}, action_id="a1", tool="scale_service",
                                          service="cartservice") for i in range(3)], durable=False)
        log.append(NewRecord("action_started", {}, action_id="a1", tool="scale_service", service="cartservice"))
        assert first.seq == 1 and [r.seq for r in rest] == [2, 3, 4]
        assert log.head() == (5, log.tail(1)[0].hash)
        assert [r.seq for r in log.records(after_seq=3)] == [4, 5]
        assert len(log.records_for_action("a1")) == 4
        assert log.count_actions("cartservice", 0, ["scale_service"]) == 1
        report = log.verify()
        assert report.ok and report.records == 5 and [i.action_id for i in report.incomplete] == ["a1"]


def test_same_bodies_and_hashes_as_the_sqlite_store(pg_url: str, tmp_path: Path) -> None:
    recs = [NewRecord("request", {"text": "é ✓", "n": i}, actor="bob", ts=1_700_000_000.123456 + i) for i in range(4)]
    with PostgresAuditStore(pg_url) as pgl, SqliteAuditStore(tmp_path / "a.db") as sql:
        assert [(r.body, r.hash) for r in pgl.append_many(recs)] == [(r.body, r.hash) for r in sql.append_many(recs)]
        assert pgl.head() == sql.head()


def test_the_log_is_append_only_and_tampering_is_named(pg_url: str) -> None:
    with PostgresAuditStore(pg_url) as log:
        for i in range(5):
            log.append(NewRecord("request", {"i": i}))
    with psycopg.connect(pg_url, autocommit=True) as c:
        for sql in ("UPDATE audit_log SET actor = 'x' WHERE seq = 2", "DELETE FROM audit_log WHERE seq = 5",
                    "TRUNCATE audit_log"):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                c.execute(sql)
        c.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        c.execute("UPDATE audit_log SET data = replace(data, '\"i\":2', '\"i\":9') WHERE seq = 3")
    report = verify_postgres(pg_url)
    assert not report.ok and report.broken.seq == 3 and "hash mismatch" in report.broken.reason
    with psycopg.connect(pg_url, autocommit=True) as c:
        c.execute("UPDATE audit_log SET data = replace(data, '\"i\":9', '\"i\":2') WHERE seq = 3")
        c.execute("DELETE FROM audit_log WHERE seq = 5")
    report = verify_postgres(pg_url)
    assert not report.ok and "tail truncated" in report.broken.reason


def test_concurrent_appends_from_many_connections_keep_one_chain(pg_url: str) -> None:
    stores = [PostgresAuditStore(pg_url, max_connections=4) for _ in range(3)]
    with ThreadPoolExecutor(12) as pool:
        list(pool.map(lambda i: stores[i % 3].append(NewRecord("request", {"i": i})), range(300)))
    report = stores[0].verify()
    assert report.ok and report.records == 300
    for s in stores:
        s.close()


def test_approval_is_decided_once_under_contention(pg_url: str) -> None:
    store = PostgresApprovalStore(pg_url, max_connections=8)
    now = time.time()
    store.create(approval("a1", now))
    barrier = threading.Barrier(8)

    def race(k: int) -> str:
        barrier.wait()
        try:
            store.decide("a1", "approved" if k % 2 else "denied", f"p{k}", "approver", "", time.time())
            return "won"
        except ApprovalError as e:
            return e.code

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(race, range(8)))
    assert outcomes.count("won") == 1 and outcomes.count("already_decided") == 7
    a = store.get("a1")
    assert a is not None and a.status in ("approved", "denied")
    if a.status == "approved":
        with ThreadPoolExecutor(8) as pool:
            assert sum(pool.map(lambda _: store.claim("a1", time.time()), range(8))) == 1
    store.close()


def test_expiry_and_listing(pg_url: str) -> None:
    store = PostgresApprovalStore(pg_url)
    now = time.time()
    store.create(approval("old", now - 100, ttl=10))
    store.create(approval("new", now))
    with pytest.raises(ApprovalError) as e:
        store.decide("old", "approved", "bob", "approver", "", now)
    assert e.value.code == "expired"
    assert [a.id for a in store.expire_due(now)] == ["old"]
    assert [a.id for a in store.list("pending")] == ["new"] and {a.id for a in store.list()} == {"old", "new"}
    store.decide("new", "approved", "bob", "approver", "fine", now)
    assert store.claim("new", now) and not store.claim("new", now)
    store.record_result("new", {"status": "ok", "data": {"x": 1}})
    assert store.get("new").result == {"status": "ok", "data": {"x": 1}}
    with pytest.raises(ApprovalError) as e:
        store.decide("missing", "approved", "bob", "approver", "", now)
    assert e.value.code == "not_found"
    store.close()


def test_open_stores_and_checkpointer_follow_database_url(pg_url: str) -> None:
    settings = get_settings(database_url=pg_url)
    audit, approvals = open_stores(settings)
    assert isinstance(audit, PostgresAuditStore) and isinstance(approvals, PostgresApprovalStore)
    audit.close()
    approvals.close()
    with pytest.raises(ValueError, match="database_url"):
        open_stores(get_settings(database_url="mysql://x"))
    saver = checkpointer_from_settings(settings)
    try:
        from langgraph.checkpoint.base import empty_checkpoint

        cfg = {"configurable": {"thread_id": "t1", "checkpoint_ns": ""}}
        cp = empty_checkpoint()
        saver.put(cfg, cp, {"source": "input", "step": 0}, {})
        got = saver.get_tuple({"configurable": {"thread_id": "t1"}})
        assert got is not None and got.checkpoint["id"] == cp["id"]
    finally:
        close_checkpointer(saver)


def test_a_database_that_is_down_gives_the_gate_an_error_envelope(pg_url: str) -> None:
    with pytest.raises(PostgresStoreError, match="cannot connect"):
        PostgresAuditStore(f"postgresql://postgres@127.0.0.1:{free_port()}/x", connect_timeout_s=1)
    audit, approvals = PostgresAuditStore(pg_url), PostgresApprovalStore(pg_url)
    gate = Gate(audit, approvals, load_policy(), autonomy=3)
    sim = Scenario(name="quiet").build()
    sim.run_until(5)
    ctx = sim_context(sim)
    with psycopg.connect(pg_url, autocommit=True) as c:  # the audit table goes away under the gate
        c.execute("DROP TABLE audit_anchor")
    r = gate.execute("scale_service", {"service": "frontend", "replicas": 4}, ctx, Principal("al", "operator"), "x")
    assert r.status == "error" and "not run" in r.error
    assert int(sim.replicas[0]) == 3  # nothing ran without its audit record
    audit.close()
    approvals.close()


@pytest.mark.slow
def test_two_processes_200_concurrent_approvals_and_actions(pg_url: str, tmp_path: Path) -> None:
    """Two worker processes, each a real Gate over the PostgreSQL stores with 8 threads: 200 write requests
    (100 parked for approval, 100 run at once), then both race to approve and run all 100 approvals."""
    def run_both(cmd: str, args: list[str]) -> list[Path]:
        outs = [tmp_path / f"{cmd}-{k}.json" for k in range(2)]
        procs = [subprocess.Popen([sys.executable, "-m", "tests.backends.pg_worker", cmd, pg_url, f"{cmd}{k}",
                                   *args, str(outs[k])], cwd=ROOT) for k in range(2)]
        assert [p.wait(120) for p in procs] == [0, 0]
        return outs

    t0 = time.perf_counter()
    submitted = [r for out in run_both("submit", ["100"]) for r in json.loads(out.read_text())]
    t_submit = time.perf_counter() - t0
    assert len(submitted) == 200
    parked = [r["id"] for r in submitted if r["kind"] == "approval"]
    ran = [r for r in submitted if r["kind"] == "action"]
    assert len(parked) == 100 and all(r["status"] == "pending_approval" for r in submitted if r["kind"] == "approval")
    assert len(ran) == 100 and all(r["status"] == "ok" for r in ran), [r for r in ran if r["status"] != "ok"][:3]
    ids_file = tmp_path / "ids.json"
    ids_file.write_text(json.dumps(parked))
    t1 = time.perf_counter()
    outcomes = [json.loads(out.read_text()) for out in run_both("decide", [str(ids_file)])]
    t_decide = time.perf_counter() - t1

    wins = [d["id"] for o in outcomes for d in o["decisions"] if d["won"]]
    losses = [d for o in outcomes for d in o["decisions"] if not d["won"]]
    assert sorted(wins) == sorted(parked)  # each approval decided exactly once ...
    assert len(losses) == 100 and {d["code"] for d in losses} == {"already_decided"}  # ... the other lost
    runs: dict[str, list[dict]] = {}
    for o in outcomes:
        for r in o["runs"]:
            runs.setdefault(r["id"], []).append(r)
    for rs in runs.values():  # one run does it; the other gets its stored result or "already running"
        assert len(rs) == 2 and any(r["status"] == "ok" for r in rs), rs
        assert all(r["status"] == "ok" or "already running" in (r["error"] or "") for r in rs), rs
    racing = sum(1 for rs in runs.values() if any(r["status"] != "ok" for r in rs))

    report = verify_postgres(pg_url)
    assert report.ok, report.broken
    audit = PostgresAuditStore(pg_url)
    kinds: dict[str, int] = {}
    for rec in audit.records():
        kinds[rec.kind] = kinds.get(rec.kind, 0) + 1
    for aid in parked:  # each approved action: one approval, started once, one result
        ks = [r.kind for r in audit.records_for_action(aid)]
        assert ks.count("approval") == 1 and ks.count("action_started") == 1 and ks.count("action_result") == 1, ks
    # nothing lost: 100 direct actions x (proposal, decision, started, result) + 100 approvals x
    # (proposal, decision, approval, re-check decision, started, result)
    assert report.records == 100 * 4 + 100 * 6, kinds
    assert kinds == {"proposal": 200, "decision": 300, "approval": 100, "action_started": 200, "action_result": 200}
    approvals = PostgresApprovalStore(pg_url)
    decided = [approvals.get(a) for a in parked]
    assert all(a is not None and a.status == "approved" and a.claimed_at and a.result for a in decided)
    audit.close()
    approvals.close()
    print(f"\nsubmit 200 requests from 2 processes: {t_submit:.2f} s; approve+run 100 (raced by 2): "
          f"{t_decide:.2f} s ({racing} runs refused as already running); {report.records} records, chain valid")
