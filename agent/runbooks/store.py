"""Runbook execution records: the dataclasses and their SQLite store (`$KEEL_HOME/runbooks.db`).

A run is saved after every step, so a paused run (waiting for an approval) survives a restart and can be
resumed from its cursor; its approval id links it back to the governance approval.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

RunStatus = Literal["running", "paused", "succeeded", "completed_with_failures", "failed"]
RUN_STATUSES: tuple[RunStatus, ...] = ("running", "paused", "succeeded", "completed_with_failures", "failed")
FINISHED = ("succeeded", "completed_with_failures", "failed")


@dataclass
class StepRecord:
    """What happened to one step. `status` is the tool's envelope status, `skipped`, or `waited`."""

    id: str
    kind: str  # tool | wait
    tool: str | None = None
    status: str = "pending"
    args: dict[str, Any] | None = None
    data: Any = None
    error: str | None = None
    risk: str | None = None
    oversight: str | None = None
    reasons: list[str] = field(default_factory=list)
    approval_id: str | None = None
    approved_by: str | None = None
    audit_ids: list[Any] = field(default_factory=list)  # audit record numbers (seq) of this step
    action_id: str | None = None  # the gate's action id (the approval id when one was needed)
    note: str = ""
    started_at: float | None = None
    finished_at: float | None = None
    minute: int | None = None  # the simulator's minute when the step ran (embedded backend only)

    def view(self) -> dict[str, Any]:
        """What later templates see as `steps.<id>`."""
        return {"status": self.status, "data": self.data, "error": self.error, "args": self.args,
                "oversight": self.oversight, "risk": self.risk, "approval_id": self.approval_id}


@dataclass
class RunRecord:
    id: str
    runbook: str
    params: dict[str, Any]
    principal: dict[str, str]
    status: RunStatus = "running"
    cursor: int = 0
    steps: list[StepRecord] = field(default_factory=list)
    reason: str | None = None
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    context: dict[str, Any] = field(default_factory=dict)  # how to rebuild the backend (e.g. the scenario)

    @classmethod
    def new(cls, runbook: str, params: dict[str, Any], principal: dict[str, str],
            context: dict[str, Any] | None = None) -> RunRecord:
        return cls(id="rb-" + uuid.uuid4().hex[:12], runbook=runbook, params=params, principal=principal,
                   context=dict(context or {}))

    def step(self, step_id: str) -> StepRecord | None:
        for s in reversed(self.steps):
            if s.id == step_id:
                return s
        return None

    @property
    def pending(self) -> StepRecord | None:
        """The step waiting for an approval, when the run is paused."""
        if self.status != "paused" or not self.steps:
            return None
        last = self.steps[-1]
        return last if last.status == "pending_approval" else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunRecord:
        d = dict(d)
        d["steps"] = [StepRecord(**s) for s in d.get("steps", [])]
        return cls(**d)


class RunStore:
    """Run records in SQLite, one JSON document per run plus query columns."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS runbook_runs (id TEXT PRIMARY KEY, runbook TEXT NOT NULL, "
            "status TEXT NOT NULL, approval_id TEXT, created_at REAL NOT NULL, updated_at REAL NOT NULL, "
            "record TEXT NOT NULL)")
        self._conn.execute("CREATE INDEX IF NOT EXISTS runbook_runs_approval ON runbook_runs(approval_id)")
        self._conn.commit()

    def save(self, run: RunRecord) -> None:
        run.updated_at = time.time()
        pending = run.pending
        row = (run.id, run.runbook, run.status, pending.approval_id if pending else None, run.created_at,
               run.updated_at, json.dumps(run.to_dict(), default=str))
        with self._lock:
            self._conn.execute(
                "INSERT INTO runbook_runs (id, runbook, status, approval_id, created_at, updated_at, record) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET status = excluded.status, "
                "approval_id = excluded.approval_id, updated_at = excluded.updated_at, record = excluded.record",
                row)
            self._conn.commit()

    def get(self, run_id: str) -> RunRecord | None:
        with self._lock:
            r = self._conn.execute("SELECT record, status FROM runbook_runs WHERE id = ?", (run_id,)).fetchone()
        if not r:
            return None
        run = RunRecord.from_dict(json.loads(r[0]))
        run.status = r[1]
        return run

    def claim_paused(self, run_id: str) -> bool:
        """paused -> running for exactly one caller (across processes sharing the file)."""
        with self._lock:
            cur = self._conn.execute("UPDATE runbook_runs SET status = 'running' WHERE id = ? AND status = 'paused'",
                                     (run_id,))
            self._conn.commit()
        return cur.rowcount == 1

    def by_approval(self, approval_id: str) -> RunRecord | None:
        """The paused run waiting on this approval, if any."""
        with self._lock:
            r = self._conn.execute("SELECT record FROM runbook_runs WHERE approval_id = ? AND status = 'paused'",
                                   (approval_id,)).fetchone()
        return RunRecord.from_dict(json.loads(r[0])) if r else None

    def list(self, status: str | None = None, limit: int = 50) -> list[RunRecord]:
        q = "SELECT record FROM runbook_runs"
        args: tuple[Any, ...] = ()
        if status:
            q += " WHERE status = ?"
            args = (status,)
        q += " ORDER BY created_at DESC LIMIT ?"
        with self._lock:
            rows = self._conn.execute(q, (*args, limit)).fetchall()
        return [RunRecord.from_dict(json.loads(r[0])) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._conn.close()
