"""The hash-chained audit log: appends, streaming verification, and tamper detection.

The tamper tests follow certificate-transparency / CloudTrail log-validation tests: take a valid log,
change it the way an attacker or an accident would, and check that verification fails at the right
record with the right reason.
"""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path

import pytest

from governance.audit import AuditError, SqliteAuditStore, verify_sqlite
from governance.chain import GENESIS, NewRecord, RecordKind, StoredRecord, body_text, canonical_json, record_hash, seal

N = 20


def _records(n: int) -> list[NewRecord]:
    out = []
    for i in range(n):
        kind: RecordKind = ("request", "proposal", "decision", "action_started", "action_result")[i % 5]
        out.append(NewRecord(kind, {"i": i, "text": f"scale cart to {i} — ok ✓", "nested": {"x": [1, 2.5, None]}},
                             actor="alice", conversation_id="c-1", action_id=f"a{i // 5}",
                             tool="scale_service", service="cartservice"))
    return out


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "audit.db"
    with SqliteAuditStore(path) as store:
        for rec in _records(N):
            store.append(rec)
        assert store.verify().ok
    return path


def _tamper(path: Path) -> sqlite3.Connection:
    """A raw connection with the append-only triggers removed, as someone editing the file would have."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DROP TRIGGER audit_log_no_update")
    conn.execute("DROP TRIGGER audit_log_no_delete")
    return conn


def _rows(conn: sqlite3.Connection) -> list[StoredRecord]:
    return [StoredRecord(*r) for r in conn.execute(
        "SELECT seq, ts, kind, actor, conversation_id, action_id, tool, service, data, prev_hash, hash "
        "FROM audit_log ORDER BY seq")]


def _broken(path: Path) -> tuple[int, str]:
    report = verify_sqlite(path)
    assert not report.ok and report.broken is not None
    return report.broken.seq, report.broken.reason


# ------------------------------------------------------------------ the chain itself


def test_records_chain_from_genesis(log: Path) -> None:
    store = SqliteAuditStore(log)
    rows = list(store.records())
    assert [r.seq for r in rows] == list(range(1, N + 1))
    assert rows[0].prev_hash == GENESIS
    for a, b in zip(rows, rows[1:], strict=False):
        assert b.prev_hash == a.hash
    for r in rows:
        assert r.hash == record_hash(r.prev_hash, r.body)
    assert store.head() == (N, rows[-1].hash)
    report = store.verify()
    assert report.ok and report.records == N and report.head_seq == N and report.anchor == (N, rows[-1].hash)
    store.close()


def test_body_is_the_canonical_json_the_design_names() -> None:
    rng = random.Random(3)
    alphabet = 'ab"\\\n\té☃😀 \x01/<>&'
    for i in range(500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        rec = NewRecord("decision", {"t": text, "f": rng.random() * 1e6, "l": [True, None, -3]},
                        actor=rng.choice([None, text]), conversation_id=rng.choice([None, "c"]),
                        action_id=text, tool="scale_service", service=rng.choice([None, "cartservice"]))
        ts = rng.uniform(0, 2e9)
        s = seal(rec, i + 1, ts, GENESIS)
        expected = json.dumps(rec.body(i + 1, round(ts, 6)), sort_keys=True, separators=(",", ":"),
                              ensure_ascii=False)
        assert s.body == expected == canonical_json(rec.body(i + 1, round(ts, 6)))
        assert body_text(*s[:9]) == expected


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="kind: got 'oops'; allowed: request, proposal"):
        NewRecord("oops")  # type: ignore[arg-type]


def test_append_many_is_one_transaction(tmp_path: Path) -> None:
    store = SqliteAuditStore(tmp_path / "a.db")
    out = store.append_many(_records(5))
    assert [r.seq for r in out] == [1, 2, 3, 4, 5]
    assert len({r.ts for r in out}) == 1
    with pytest.raises(TypeError):  # the second is not JSON: neither is written
        store.append_many([NewRecord("request", {"ok": 1}), NewRecord("request", {"x": object()})])
    assert store.head()[0] == 5 and store.verify().ok
    store.close()


def test_triggers_make_the_table_append_only(log: Path) -> None:
    conn = sqlite3.connect(log)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM audit_log WHERE seq = 3")
    conn.close()
    assert verify_sqlite(log).ok


def test_incomplete_actions_are_listed(tmp_path: Path) -> None:
    store = SqliteAuditStore(tmp_path / "a.db")
    store.append(NewRecord("action_started", {}, action_id="done", tool="restart_service", service="cartservice"))
    store.append(NewRecord("action_result", {"status": "ok"}, action_id="done", tool="restart_service"))
    store.append(NewRecord("action_started", {}, action_id="hung", tool="scale_service", service="frontend"))
    report = store.verify()
    assert report.ok
    assert [(i.action_id, i.tool, i.service, i.seq) for i in report.incomplete] == [
        ("hung", "scale_service", "frontend", 3)]
    store.close()


def test_count_actions_is_the_rate_limit_history(tmp_path: Path) -> None:
    store = SqliteAuditStore(tmp_path / "a.db")
    started = [("scale_service", "cartservice", 100.0), ("restart_service", "cartservice", 200.0),
               ("scale_service", "frontend", 200.0), ("query_metrics", "cartservice", 200.0)]
    for i, (tool, svc, ts) in enumerate(started):
        store.append(NewRecord("action_started", {}, action_id=str(i), tool=tool, service=svc, ts=ts))
    store.append(NewRecord("proposal", {}, action_id="x", tool="scale_service", service="cartservice", ts=300.0))
    writes = {"scale_service", "restart_service"}
    assert store.count_actions("cartservice", 0, writes) == 2
    assert store.count_actions("cartservice", 150, writes) == 1
    assert store.count_actions("frontend", 0, writes) == 1
    store.close()


def test_verify_of_a_missing_or_foreign_file(tmp_path: Path) -> None:
    with pytest.raises(AuditError, match="no audit log"):
        verify_sqlite(tmp_path / "nope.db")
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(AuditError, match="not a keel audit log"):
        verify_sqlite(other)


def test_empty_log_verifies(tmp_path: Path) -> None:
    SqliteAuditStore(tmp_path / "a.db").close()
    report = verify_sqlite(tmp_path / "a.db")
    assert report.ok and report.records == 0 and report.head_hash == GENESIS


# ------------------------------------------------------------------ tampering


@pytest.mark.parametrize(("column", "value"), [
    ("data", '{"i":4,"nested":{"x":[1,2.5,null]},"text":"scale cart to 40"}'),
    ("actor", "mallory"),
    ("kind", "request"),
    ("tool", "restart_service"),
    ("service", "frontend"),
    ("action_id", "a9"),
    ("conversation_id", None),
    ("ts", 1.0),
])
def test_change_one_field(log: Path, column: str, value: object) -> None:
    conn = _tamper(log)
    conn.execute(f"UPDATE audit_log SET {column} = ? WHERE seq = 5", (value,))
    seq, reason = _broken(log)
    assert seq == 5 and reason.startswith("hash mismatch")


def test_change_one_field_and_recompute_its_hash(log: Path) -> None:
    conn = _tamper(log)
    row = _rows(conn)[6]  # seq 7
    forged = row._replace(actor="mallory")
    conn.execute("UPDATE audit_log SET actor = ?, hash = ? WHERE seq = 7",
                 ("mallory", record_hash(forged.prev_hash, forged.body)))
    seq, reason = _broken(log)
    assert seq == 8 and reason.startswith("broken link") and "record 7" in reason


def test_delete_a_record(log: Path) -> None:
    _tamper(log).execute("DELETE FROM audit_log WHERE seq = 6")
    seq, reason = _broken(log)
    assert seq == 6 and "sequence gap" in reason and "6 missing" in reason


def test_delete_the_first_record(log: Path) -> None:
    _tamper(log).execute("DELETE FROM audit_log WHERE seq = 1")
    assert _broken(log)[0] == 1


def test_delete_several_records(log: Path) -> None:
    _tamper(log).execute("DELETE FROM audit_log WHERE seq BETWEEN 9 AND 11")
    seq, reason = _broken(log)
    assert seq == 9 and "9..11 missing" in reason


def test_insert_a_record_with_a_valid_own_hash(log: Path) -> None:
    """A forged record slotted in at seq 10 that links to record 9 and carries a correct hash of its own."""
    conn = _tamper(log)
    rows = _rows(conn)
    conn.execute("UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 10")
    conn.execute("UPDATE audit_log SET seq = seq - 999 WHERE seq >= 1000")
    forged = seal(NewRecord("approval", {"approver": "mallory"}, actor="mallory"), 10, rows[9].ts, rows[8].hash)
    conn.execute("INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", tuple(forged))
    seq, reason = _broken(log)
    assert seq == 11 and reason.startswith("broken link") and "record 10" in reason


def test_insert_a_naive_record(log: Path) -> None:
    conn = _tamper(log)
    conn.execute("UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 10")
    conn.execute("UPDATE audit_log SET seq = seq - 999 WHERE seq >= 1000")
    prev = _rows(conn)[8].hash
    conn.execute("INSERT INTO audit_log VALUES (10, 1.0, 'approval', 'mallory', NULL, NULL, NULL, NULL, '{}', ?, ?)",
                 (prev, "f" * 64))
    seq, reason = _broken(log)
    assert seq == 10 and reason.startswith("hash mismatch")


def test_append_a_record_outside_the_store(log: Path) -> None:
    conn = _tamper(log)
    last = _rows(conn)[-1]
    forged = seal(NewRecord("approval", {"approver": "mallory"}), N + 1, last.ts, last.hash)
    conn.execute("INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", tuple(forged))
    seq, reason = _broken(log)
    assert seq == N + 1 and "appended outside the store" in reason


def test_swap_two_records(log: Path) -> None:
    conn = _tamper(log)
    rows = _rows(conn)
    a, b = rows[3], rows[11]  # seq 4 and 12 exchange their contents
    cols = "ts = ?, kind = ?, actor = ?, conversation_id = ?, action_id = ?, tool = ?, service = ?, data = ?, " \
           "prev_hash = ?, hash = ?"
    conn.execute(f"UPDATE audit_log SET {cols} WHERE seq = 4", tuple(b[1:]))
    conn.execute(f"UPDATE audit_log SET {cols} WHERE seq = 12", tuple(a[1:]))
    seq, reason = _broken(log)
    assert seq == 4 and reason.startswith("broken link")


def test_swap_two_adjacent_records_by_renumbering(log: Path) -> None:
    conn = _tamper(log)
    conn.execute("UPDATE audit_log SET seq = 1000 WHERE seq = 7")
    conn.execute("UPDATE audit_log SET seq = 7 WHERE seq = 8")
    conn.execute("UPDATE audit_log SET seq = 8 WHERE seq = 1000")
    seq, _ = _broken(log)
    assert seq == 7


@pytest.mark.parametrize("cut", [1, 3, N])
def test_truncate_the_tail(log: Path, cut: int) -> None:
    _tamper(log).execute("DELETE FROM audit_log WHERE seq > ?", (N - cut,))
    seq, reason = _broken(log)
    assert seq == N - cut + 1 and "tail truncated" in reason


@pytest.mark.parametrize("target", [1, 9, N])
def test_edit_the_hash_column(log: Path, target: int) -> None:
    _tamper(log).execute("UPDATE audit_log SET hash = ? WHERE seq = ?", ("0" * 63 + "1", target))
    seq, reason = _broken(log)
    assert seq == target and reason.startswith("hash mismatch")


def test_edit_the_prev_hash_column(log: Path) -> None:
    _tamper(log).execute("UPDATE audit_log SET prev_hash = ? WHERE seq = 13", ("a" * 64,))
    seq, reason = _broken(log)
    assert seq == 13 and reason.startswith("broken link")


def test_edit_the_anchor(log: Path) -> None:
    conn = sqlite3.connect(log, isolation_level=None)
    conn.execute("UPDATE audit_anchor SET hash = ?", ("b" * 64,))
    seq, reason = _broken(log)
    assert seq == N and "anchor mismatch" in reason
    conn.execute("DROP TABLE audit_anchor")
    seq, reason = _broken(log)
    assert seq == N and "no anchor" in reason


def _rechain(conn: sqlite3.Connection, start: int) -> None:
    rows = _rows(conn)
    prev = rows[start - 2].hash if start > 1 else GENESIS
    for r in rows[start - 1:]:
        r = r._replace(prev_hash=prev)
        h = record_hash(prev, r.body)
        conn.execute("UPDATE audit_log SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, h, r.seq))
        prev = h
    conn.execute("UPDATE audit_anchor SET seq = ?, hash = ?", (rows[-1].seq, prev))


def test_a_full_rewrite_is_caught_by_an_external_checkpoint(log: Path) -> None:
    """Rewriting a record, every later hash and the anchor defeats the chain alone (the known limit);
    a head kept elsewhere (`keel audit verify --expect-head`) still catches it."""
    checkpoint = verify_sqlite(log)
    conn = _tamper(log)
    conn.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 4")
    _rechain(conn, 4)
    assert verify_sqlite(log).ok
    report = verify_sqlite(log, expect=(checkpoint.head_seq, checkpoint.head_hash))
    assert not report.ok and report.broken is not None
    assert report.broken.seq == N and "checkpoint mismatch" in report.broken.reason


def test_checkpoint_beyond_the_end_is_truncation(log: Path) -> None:
    report = verify_sqlite(log, expect=(N + 5, "c" * 64))
    assert not report.ok and report.broken is not None and report.broken.seq == N + 1


def test_appends_after_tampering_do_not_hide_it(log: Path) -> None:
    _tamper(log).execute("DELETE FROM audit_log WHERE seq > ?", (N - 2,))
    with SqliteAuditStore(log) as store:
        store.append(NewRecord("request", {"after": True}))
    seq, reason = _broken(log)
    assert seq == N - 1 and "sequence gap" in reason


@pytest.mark.parametrize(("column", "value"), [("ts", "yesterday"), ("actor", 5), ("tool", 3.5), ("data", "")])
def test_wrongly_typed_edits_are_reported_not_raised(log: Path, column: str, value: object) -> None:
    _tamper(log).execute(f"UPDATE audit_log SET {column} = ? WHERE seq = 8", (value,))
    report = verify_sqlite(log)
    assert not report.ok and report.broken is not None and report.broken.seq == 8
