"""Group commit of audit appends: batching, durability on return, and a valid chain under concurrency.

Run as a module it is the appender process of the two-process test:
python -m tests.governance.test_group_commit DB TAG THREADS COUNT GO_FILE
(prints "ready" once connected; THREADS threads append COUNT records each after GO_FILE exists; then
it prints the commit statistics as JSON).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from governance.audit import SqliteAuditStore, _Append, verify_sqlite
from governance.chain import NewRecord, StoredRecord
from governance.group_commit import GroupCommit

ROOT = Path(__file__).resolve().parents[2]


def _wait_for(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.002)


class _Gated:
    """A commit function that records its batches and, while `gate` is clear, blocks inside the commit;
    with `join`, it then takes whoever queued meanwhile (`more()`) into the same commit."""

    def __init__(self, join: bool = False) -> None:
        self.join = join
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.batches: list[list[str]] = []
        self.threads: list[str] = []

    def __call__(self, first: Sequence[str], more: Callable[[], Sequence[str]]) -> list[str | Exception]:
        batch = list(first)
        self.threads.append(threading.current_thread().name)
        self.entered.set()
        assert self.gate.wait(10)
        while self.join and (new := more()):
            batch.extend(new)
        self.batches.append(batch)
        return [ValueError(f"bad {x}") if x.startswith("bad") else x.upper() for x in batch]


def _submit_in_thread(gc: GroupCommit[str, str], item: str, out: dict[str, object]) -> threading.Thread:
    def run() -> None:
        try:
            out[item] = gc.submit(item)
        except Exception as e:
            out[item] = e

    t = threading.Thread(target=run, name=item)
    t.start()
    return t


# ------------------------------------------------------------------ the batching itself


def test_a_lone_caller_commits_at_once_in_its_own_thread() -> None:
    commit = _Gated()
    commit.gate.set()
    gc: GroupCommit[str, str] = GroupCommit(commit)
    assert gc.submit("a") == "A"
    assert commit.batches == [["a"]] and commit.threads == [threading.current_thread().name]


def test_callers_arriving_during_a_commit_wait_for_it_then_commit_together() -> None:
    commit = _Gated()
    gc: GroupCommit[str, str] = GroupCommit(commit)
    out: dict[str, object] = {}
    first = _submit_in_thread(gc, "a", out)
    assert commit.entered.wait(10)  # "a" leads a commit, which is now blocked
    later = [_submit_in_thread(gc, x, out) for x in ("b", "bad-c", "d")]
    _wait_for(lambda: gc.pending == 3)
    time.sleep(0.05)
    assert out == {} and all(t.is_alive() for t in [first, *later])  # nobody returns before its commit
    commit.gate.set()
    for t in [first, *later]:
        t.join(10)
    assert commit.batches == [["a"], ["b", "bad-c", "d"]]  # one batch for all who queued meanwhile
    assert out["a"] == "A" and out["b"] == "B" and out["d"] == "D"
    assert isinstance(out["bad-c"], ValueError) and str(out["bad-c"]) == "bad bad-c"  # only its own failure
    assert (gc.commits, gc.items) == (2, 4)


def test_callers_queued_before_the_leader_finishes_its_transaction_join_it() -> None:
    commit = _Gated(join=True)
    gc: GroupCommit[str, str] = GroupCommit(commit)
    out: dict[str, object] = {}
    threads = [_submit_in_thread(gc, "a", out)]
    assert commit.entered.wait(10)
    threads += [_submit_in_thread(gc, x, out) for x in ("b", "c")]
    _wait_for(lambda: gc.pending == 2)
    commit.gate.set()
    for t in threads:
        t.join(10)
    assert commit.batches == [["a", "b", "c"]] and out == {"a": "A", "b": "B", "c": "C"}
    assert (gc.commits, gc.items) == (1, 3)


def test_a_failed_commit_fails_every_caller_of_its_batch() -> None:
    calls: list[list[str]] = []

    def flaky(batch: Sequence[str], more: Callable[[], Sequence[str]]) -> list[str | Exception]:
        calls.append(list(batch))
        if len(calls) == 1:
            raise OSError("disk full")
        return [x.upper() for x in batch]

    gc: GroupCommit[str, str] = GroupCommit(flaky)
    with pytest.raises(OSError, match="disk full"):
        gc.submit("a")
    assert gc.submit("b") == "B"  # the committer is usable again
    assert calls == [["a"], ["b"]] and gc.pending == 0


def test_max_batch_splits_a_long_queue_and_everyone_is_served() -> None:
    commit = _Gated()
    gc: GroupCommit[str, str] = GroupCommit(commit, max_batch=2)
    out: dict[str, object] = {}
    threads = [_submit_in_thread(gc, "a", out)]
    assert commit.entered.wait(10)
    for x in "bcdef":
        threads.append(_submit_in_thread(gc, x, out))
        _wait_for(lambda: gc.pending == len(threads) - 1)  # queued in this order
    commit.gate.set()
    for t in threads:
        t.join(10)
    assert out == {x: x.upper() for x in "abcdef"}
    assert commit.batches == [["a"], ["b", "c"], ["d", "e"], ["f"]]
    with pytest.raises(ValueError, match="max_batch"):
        GroupCommit(commit, max_batch=0)


# ------------------------------------------------------------------ the SQLite store


def _committed(db: Path, rec: StoredRecord) -> bool:
    """Whether a fresh connection (another reader, as after a crash and restart) sees this record."""
    conn = sqlite3.connect(db)
    try:
        row = conn.execute("SELECT hash FROM audit_log WHERE seq = ?", (rec.seq,)).fetchone()
    finally:
        conn.close()
    return row is not None and row[0] == rec.hash


def test_concurrent_appenders_in_one_process(tmp_path: Path) -> None:
    """16 threads, appends and 3-record append_many mixed, synchronous=FULL: every record once, in a valid
    chain, each caller's records contiguous, each thread's in order, each committed when its call returns."""
    db = tmp_path / "audit.db"
    store = SqliteAuditStore(db, sync="full")
    threads, calls = 16, 25
    not_visible: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def work(k: int) -> None:
        start.wait()
        try:
            for i in range(calls):
                recs = [NewRecord("request", {"t": k, "i": i, "j": j}, actor=f"t{k}") for j in range(1 + 2 * (i % 2))]
                out = store.append_many(recs) if len(recs) > 1 else [store.append(recs[0])]
                assert [r.seq for r in out] == list(range(out[0].seq, out[0].seq + len(recs)))
                assert [json.loads(r.data_json) for r in out] == [dict(r.data) for r in recs]
                not_visible.extend(r.seq for r in out if not _committed(db, r))
        except BaseException as e:
            errors.append(e)

    pool = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(60)
    assert not errors, errors[0]
    assert not_visible == []
    report = verify_sqlite(db)
    expected = threads * sum(1 + 2 * (i % 2) for i in range(calls))
    assert report.ok and report.records == expected, report.broken
    seen = [(r.data["t"], r.data["i"], r.data["j"]) for r in store.records()]
    assert len(seen) == len(set(seen)) == expected
    for k in range(threads):
        assert [x for x in seen if x[0] == k] == sorted(x for x in seen if x[0] == k)
    assert store.batches.items == threads * calls
    assert store.batches.commits < threads * calls  # some callers shared a commit
    store.close()


def test_a_caller_with_bad_records_fails_alone_in_its_batch(tmp_path: Path) -> None:
    """One transaction for several callers (and one that joins before the COMMIT); the caller whose
    records cannot be sealed gets the error, the others are committed in order."""
    store = SqliteAuditStore(tmp_path / "a.db")
    store.append(NewRecord("request", {"n": 0}))
    later = [[_Append((NewRecord("request", {"n": 4}),), True)], []]
    out = store._commit([
        _Append((NewRecord("request", {"n": 1}), NewRecord("request", {"n": 2})), True),
        _Append((NewRecord("request", {"ok": 1}), NewRecord("request", {"x": object()})), True),
        _Append((NewRecord("request", {"n": 3}),), False),
    ], lambda: later.pop(0))  # one more caller joins while the transaction is open
    assert isinstance(out[1], TypeError)
    assert [[r.seq for r in x] for x in (out[0], out[2], out[3])] == [[2, 3], [4], [5]]  # type: ignore[union-attr]
    assert [r.data.get("n") for r in store.records()] == [0, 1, 2, 3, 4]
    assert store.head() == (5, out[3][-1].hash)  # type: ignore[index]
    assert store.verify().ok
    store.close()


def test_a_commit_at_normal_in_a_full_store_takes_no_one_else(tmp_path: Path) -> None:
    """durable=False callers commit at NORMAL: a durable caller must not ride along in that commit."""
    store = SqliteAuditStore(tmp_path / "a.db", sync="full")
    asked: list[int] = []

    def more() -> list[_Append]:
        asked.append(1)
        return [_Append((NewRecord("request", {"n": 2}),), True)]

    out = store._commit([_Append((NewRecord("request", {"n": 1}),), False)], more)
    assert asked == [] and len(out) == 1 and store.head()[0] == 1
    store.close()


def test_concurrent_appenders_in_two_processes(tmp_path: Path) -> None:
    db, go = tmp_path / "audit.db", tmp_path / "go"
    SqliteAuditStore(db).close()
    threads, count = 8, 40
    procs = [subprocess.Popen([sys.executable, "-m", "tests.governance.test_group_commit", str(db), tag,
                               str(threads), str(count), str(go)], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for tag in ("a", "b")]
    for p in procs:  # both connected and waiting
        assert p.stdout is not None and p.stdout.readline().strip() == "ready", p.stderr.read() if p.stderr else ""
    go.touch()
    stats = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        stats.append(json.loads(out))
    report = verify_sqlite(db)
    assert report.ok, report.broken
    assert report.records == 2 * threads * count
    with SqliteAuditStore(db) as store:
        rows = list(store.records())
    seen = [(r.actor, r.data["t"], r.data["i"]) for r in rows]
    assert len(set(seen)) == len(seen) == 2 * threads * count
    for tag in ("a", "b"):
        for k in range(threads):
            assert [i for a, t, i in seen if a == tag and t == k] == list(range(count))
    writers = [r.actor for r in rows]
    assert sum(1 for x, y in zip(writers, writers[1:], strict=False) if x != y) > 1  # the processes interleaved
    assert all(s["items"] == threads * count for s in stats)


def _appender_main(db: str, tag: str, threads: int, count: int, go: str) -> None:
    store = SqliteAuditStore(db, sync="full")
    print("ready", flush=True)
    while not Path(go).exists():
        time.sleep(0.005)

    def work(k: int) -> None:
        for i in range(count):
            store.append(NewRecord("request", {"t": k, "i": i}, actor=tag))

    pool = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    print(json.dumps({"commits": store.batches.commits, "items": store.batches.items}))
    store.close()


if __name__ == "__main__":
    _appender_main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
