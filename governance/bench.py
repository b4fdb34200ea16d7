"""Audit-log benchmark: durable appends per second, verification speed, and the disk's fsync ceiling.

Records look like the gate's (a decision with reasons and checks, ~700 bytes of body); each append is
one `append` call, as the gate makes them. Figures:
- `appends_per_s`: durable appends (synchronous=FULL: survive power loss) per second from `threads`
  concurrent appenders in one process, as an API server under load makes them; group commit writes
  whatever queued during the previous commit's fsync in one transaction (`records_per_commit`).
- `appends_single_per_s`: the same from one appender alone: one transaction, one fsync per append.
- `appends_normal_per_s`: one appender with WAL + synchronous=NORMAL (survives the process being
  killed, not power loss).
- `fsync_per_s`: a bare write + fdatasync of 4 KiB in the same directory: what any log that fsyncs once
  per append pays each time (disk-bound, and noisy on a shared disk).
- `verify_per_s`, `verify_cpu_per_s`: verification of an n-record log per wall-clock / CPU second.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from governance.audit import SqliteAuditStore, SyncMode, verify_sqlite
from governance.chain import NewRecord

_DECISION = {
    "risk": "medium", "oversight": "notification", "autonomy": 3, "policy": "5ab2c6681e81cc3b",
    "reasons": ["scale cartservice 2 -> 3 is a bounded step (50%, limit ±50% or 1 replica)",
                "at autonomy 3, medium risk needs notification"],
    "checks": {"transparency": {"passed": True, "detail": "rationale recorded (64 chars)"},
               "accountability": {"passed": True, "detail": "owner alice (operator)"},
               "safety": {"passed": True, "detail": "target 3 within [1, 10] replicas of cartservice; "
                                                    "0 write action(s) on cartservice in the last 10m (limit 3)"}},
}


def sample_record(i: int) -> NewRecord:
    return NewRecord("decision", {**_DECISION, "n": i}, actor="alice", conversation_id="c-0123456789ab",
                     action_id=f"{i:032x}", tool="scale_service", service="cartservice")


def _fresh(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def appends_per_s(path: Path, n: int, sync: SyncMode) -> float:
    """n appends from one caller, one transaction each, into a fresh log."""
    _fresh(path)
    store = SqliteAuditStore(path, sync=sync)
    try:
        t0 = time.perf_counter()
        for i in range(n):
            store.append(sample_record(i))
        return n / (time.perf_counter() - t0)
    finally:
        store.close()


def concurrent_appends_per_s(path: Path, n: int, threads: int, sync: SyncMode = "full") -> tuple[float, float]:
    """About n appends from `threads` threads at once (n // threads each) into a fresh log, checked after.

    Returns (appends per second, mean records per commit)."""
    _fresh(path)
    store = SqliteAuditStore(path, sync=sync)
    each = max(1, n // threads)
    start = threading.Barrier(threads + 1)
    errors: list[BaseException] = []

    def work(k: int) -> None:
        start.wait()
        try:
            for i in range(each):
                store.append(sample_record(k * each + i))
        except BaseException as e:
            errors.append(e)

    pool = [threading.Thread(target=work, args=(k,), daemon=True) for k in range(threads)]
    try:
        for t in pool:
            t.start()
        start.wait()
        t0 = time.perf_counter()
        for t in pool:
            t.join()
        elapsed = time.perf_counter() - t0
        if errors:
            raise errors[0]
        per_commit = store.batches.items / max(store.batches.commits, 1)
    finally:
        store.close()
    report = verify_sqlite(path)
    if not report.ok or report.records != each * threads:
        raise RuntimeError(f"concurrent appends left {report.records} records, expected {each * threads}: "
                           f"{report.broken}")
    return each * threads / elapsed, per_commit


def verify_per_s(path: Path, n: int) -> tuple[float, float]:
    """Build an n-record log (batched, unsynced: only verification is timed), then time one verify.

    Returns records per wall-clock second and per CPU second of this process (what verification costs,
    whatever else the machine is doing)."""
    _fresh(path)
    store = SqliteAuditStore(path, sync="normal")
    try:
        for start in range(0, n, 5000):
            store.append_many([sample_record(i) for i in range(start, min(n, start + 5000))], durable=False)
    finally:
        store.close()
    t0, c0 = time.perf_counter(), time.process_time()
    report = verify_sqlite(path)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    if not report.ok or report.records != n:
        raise RuntimeError(f"benchmark log did not verify: {report.broken}")
    return n / elapsed, n / max(cpu, 1e-9)


def fsync_per_s(directory: Path, n: int) -> float:
    path = directory / "fsync.probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        block = b"x" * 4096
        t0 = time.perf_counter()
        for _ in range(n):
            os.write(fd, block)
            os.fdatasync(fd)
        return n / (time.perf_counter() - t0)
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)


@dataclass(frozen=True)
class AuditBench:
    appends_per_s: float
    appends_single_per_s: float
    appends_normal_per_s: float
    records_per_commit: float
    verify_per_s: float
    verify_cpu_per_s: float
    fsync_per_s: float
    threads: int
    records_verified: int


def run(directory: Path, appends: int = 2000, verify_records: int = 100_000, repeats: int = 3,
        threads: int = 16) -> AuditBench:
    """Medians over `repeats` rounds of every measurement, in `directory` (files removed afterwards)."""
    directory.mkdir(parents=True, exist_ok=True)
    db = directory / "bench-audit.db"
    grouped, single, normal, fsyncs, verifies = [], [], [], [], []
    try:
        for _ in range(repeats):  # interleaved, so the fsync ceiling is measured under the same load as FULL
            fsyncs.append(fsync_per_s(directory, min(appends, 500)))
            grouped.append(concurrent_appends_per_s(db, appends, threads, "full"))
            single.append(appends_per_s(db, appends, "full"))
            normal.append(appends_per_s(db, appends, "normal"))
            verifies.append(verify_per_s(db, verify_records))
    finally:
        _fresh(db)
    return AuditBench(
        appends_per_s=statistics.median(a for a, _ in grouped),
        appends_single_per_s=statistics.median(single),
        appends_normal_per_s=statistics.median(normal),
        records_per_commit=statistics.median(b for _, b in grouped),
        verify_per_s=statistics.median(v for v, _ in verifies),
        verify_cpu_per_s=statistics.median(c for _, c in verifies),
        fsync_per_s=statistics.median(fsyncs),
        threads=threads,
        records_verified=verify_records,
    )
