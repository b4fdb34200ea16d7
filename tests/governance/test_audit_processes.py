"""Several processes on one audit log: concurrent appenders lose nothing, a killed one breaks nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from governance.audit import SqliteAuditStore, verify_sqlite
from governance.chain import NewRecord

ROOT = Path(__file__).resolve().parents[2]


def _spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "tests.governance.appender", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize(("sync", "count"), [("normal", 5000), ("full", 300)])
def test_two_processes_append_concurrently(tmp_path: Path, sync: str, count: int) -> None:
    """5,000 records each with WAL+NORMAL (the locking is the same in both modes), a shorter run with FULL."""
    db, go = tmp_path / "audit.db", tmp_path / "go"
    SqliteAuditStore(db).close()
    procs = [_spawn(str(db), tag, str(count), sync, str(go)) for tag in ("a", "b")]
    time.sleep(0.5)  # both are connected and waiting
    go.touch()
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    report = verify_sqlite(db)
    assert report.ok, report.broken
    assert report.records == 2 * count
    store = SqliteAuditStore(db)
    seen: dict[str, list[int]] = {"a": [], "b": []}
    for r in store.records():
        seen[r.data["writer"]].append(r.data["i"])
    store.close()
    assert seen["a"] == list(range(count)) and seen["b"] == list(range(count))  # none lost, each in order
    # the two writers really interleaved
    writers = [r.actor for r in SqliteAuditStore(db).records()]
    assert sum(1 for x, y in zip(writers, writers[1:], strict=False) if x != y) > 1


def test_sigkill_in_an_append_loop_leaves_a_verifiable_chain(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    p = _spawn(str(db), "k", "0", "full")
    assert p.stdout is not None
    line = p.stdout.readline()  # "final" is durable by now
    assert line.strip() == "final", p.stderr.read() if p.stderr else ""
    time.sleep(0.3)  # keep appending, then die mid-loop
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=10)
    assert p.returncode == -signal.SIGKILL
    report = verify_sqlite(db)
    assert report.ok, report.broken
    incomplete = [i.action_id for i in report.incomplete]
    assert "final" in incomplete
    assert len(incomplete) <= 2  # "final", and the pair the kill may have cut in half
    assert all(a == "final" or a.startswith("k-") for a in incomplete)
    assert report.records > 101
    # and the log stays appendable
    with SqliteAuditStore(db) as store:
        after = store.append(NewRecord("request", {"after": "the kill"}))
    assert after.seq == report.records + 1 and verify_sqlite(db).ok
