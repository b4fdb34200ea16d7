"""Audit-log benchmark: durable appends per second, verification speed, and the disk's fsync ceiling.

Records look like the gate's (a decision with reasons and checks, ~700 bytes of body). Appends are one
transaction each, as the gate writes them: `appends_full_per_s` with synchronous=FULL (each commit fsyncs
the WAL: survives power loss), `appends_normal_per_s` with WAL + synchronous=NORMAL (survives the process
being killed, not power loss). `fsync_per_s` times a bare write + fdatasync of 4 KiB in the same
directory: what any log that fsyncs once per append pays each time (disk-bound, and noisy on a shared disk).
"""

from __future__ import annotations

import os
import statistics
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
    """n appends, one transaction each, into a fresh log."""
    _fresh(path)
    store = SqliteAuditStore(path, sync=sync)
    try:
        t0 = time.perf_counter()
        for i in range(n):
            store.append(sample_record(i))
        return n / (time.perf_counter() - t0)
    finally:
        store.close()


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
    appends_full_per_s: float
    appends_normal_per_s: float
    verify_per_s: float
    verify_cpu_per_s: float
    fsync_per_s: float
    records_verified: int


def run(directory: Path, appends: int = 2000, verify_records: int = 100_000, repeats: int = 3) -> AuditBench:
    """Medians over `repeats` rounds of every measurement, in `directory` (files removed afterwards)."""
    directory.mkdir(parents=True, exist_ok=True)
    db = directory / "bench-audit.db"
    full, normal, fsyncs, verifies = [], [], [], []
    try:
        for _ in range(repeats):  # interleaved, so the fsync ceiling is measured under the same load as FULL
            fsyncs.append(fsync_per_s(directory, min(appends, 500)))
            full.append(appends_per_s(db, appends, "full"))
            normal.append(appends_per_s(db, appends, "normal"))
            verifies.append(verify_per_s(db, verify_records))
    finally:
        _fresh(db)
    return AuditBench(
        appends_full_per_s=statistics.median(full),
        appends_normal_per_s=statistics.median(normal),
        verify_per_s=statistics.median(v for v, _ in verifies),
        verify_cpu_per_s=statistics.median(c for _, c in verifies),
        fsync_per_s=statistics.median(fsyncs),
        records_verified=verify_records,
    )
