"""Approvals: pending -> approved | denied | expired, persisted with who decided and when.

Rules enforced here, in the store, so every caller (CLI, HTTP, Slack) gets them:
- a decision is taken at most once: the UPDATE only matches a pending, unexpired row;
- a pending approval expires at `expires_at` (default 30 minutes after it was requested); expiry is
  applied lazily by `expire_due`, which returns the approvals it expired so the caller can audit them;
- an approved action is claimed once (`claim`) before it runs and its result stored (`record_result`),
  so running it again returns the stored result: the approval id is the idempotency key.
Who may decide (role, self-approval) is the gate's business: see `governance.gate`.

The SQLite store shares the audit database file by default (table `approvals`); it is mutable state, not
part of the hash chain; every transition is also written to the audit log by the gate.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

Status = Literal["pending", "approved", "denied", "expired"]
STATUSES: tuple[Status, ...] = ("pending", "approved", "denied", "expired")


class ApprovalError(ValueError):
    """A refused approval operation. `code`: not_found, forbidden, self_approval, already_decided, expired,
    not_approved, in_progress."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Approval:
    id: str
    tool: str
    args: Mapping[str, Any]
    risk: str
    oversight: str
    reasons: tuple[str, ...]
    requested_by: str
    requested_role: str
    rationale: str
    created_at: float
    expires_at: float
    service: str | None = None
    conversation_id: str | None = None
    status: Status = "pending"
    decided_by: str | None = None
    decided_role: str | None = None
    decided_at: float | None = None
    note: str = ""
    claimed_at: float | None = None
    result: Mapping[str, Any] | None = field(default=None)
    run_id: str | None = None  # the runbook run whose step this is (None: a conversation's own call)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["args"], d["reasons"] = dict(self.args), list(self.reasons)
        return d


class ApprovalStore(Protocol):
    def create(self, approval: Approval) -> Approval: ...

    def get(self, approval_id: str) -> Approval | None: ...

    def list(self, status: Status | None = None, limit: int = 100) -> builtins.list[Approval]:
        """Newest first, optionally one status only."""
        ...

    def decide(self, approval_id: str, status: Literal["approved", "denied"], by: str, role: str, note: str,
               now: float) -> Approval:
        """pending and unexpired -> status, at most once; else ApprovalError (not_found/already_decided/expired)."""
        ...

    def expire_due(self, now: float) -> builtins.list[Approval]:
        """Mark every pending approval past its expiry as expired; return those it changed."""
        ...

    def claim(self, approval_id: str, now: float) -> bool:
        """Approved and not yet claimed -> claimed; True for exactly one caller."""
        ...

    def record_result(self, approval_id: str, result: Mapping[str, Any]) -> None: ...

    def close(self) -> None: ...


SCHEMA = """
CREATE TABLE IF NOT EXISTS approvals (
    id TEXT PRIMARY KEY,
    tool TEXT NOT NULL,
    args TEXT NOT NULL,
    service TEXT,
    risk TEXT NOT NULL,
    oversight TEXT NOT NULL,
    reasons TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_role TEXT NOT NULL,
    rationale TEXT NOT NULL,
    conversation_id TEXT,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'expired')),
    decided_by TEXT,
    decided_role TEXT,
    decided_at REAL,
    note TEXT NOT NULL DEFAULT '',
    claimed_at REAL,
    result TEXT,
    run_id TEXT
);
CREATE INDEX IF NOT EXISTS approvals_status ON approvals(status, expires_at);
"""
_FIELDS = ("id", "tool", "args", "service", "risk", "oversight", "reasons", "requested_by", "requested_role",
           "rationale", "conversation_id", "created_at", "expires_at", "status", "decided_by", "decided_role",
           "decided_at", "note", "claimed_at", "result", "run_id")
_SELECT = f"SELECT {', '.join(_FIELDS)} FROM approvals"


def _from_row(r: tuple[Any, ...]) -> Approval:
    d = dict(zip(_FIELDS, r, strict=True))
    d["args"] = json.loads(d["args"])
    d["reasons"] = tuple(json.loads(d["reasons"]))
    d["result"] = json.loads(d["result"]) if d["result"] is not None else None
    return Approval(**d)


class SqliteApprovalStore:
    """Approvals in SQLite (WAL, busy timeout, BEGIN IMMEDIATE for every transition)."""

    def __init__(self, path: Path | str, busy_timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                     timeout=busy_timeout_s)
        self._conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript("BEGIN IMMEDIATE;" + SCHEMA + "COMMIT;")
        columns = {r[1] for r in self._conn.execute("PRAGMA table_info(approvals)")}
        if "run_id" not in columns:  # a file written before approvals named their runbook run
            self._conn.execute("ALTER TABLE approvals ADD COLUMN run_id TEXT")

    def _tx(self, fn: Any) -> Any:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                out = fn(self._conn)
                self._conn.execute("COMMIT")
                return out
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def create(self, approval: Approval) -> Approval:
        d = approval.to_dict()
        d["args"], d["reasons"] = json.dumps(d["args"], sort_keys=True), json.dumps(d["reasons"])
        d["result"] = json.dumps(d["result"]) if d["result"] is not None else None
        marks = ", ".join("?" * len(_FIELDS))
        self._tx(lambda c: c.execute(f"INSERT INTO approvals ({', '.join(_FIELDS)}) VALUES ({marks})",
                                     tuple(d[f] for f in _FIELDS)))
        return approval

    def get(self, approval_id: str) -> Approval | None:
        with self._lock:
            r = self._conn.execute(f"{_SELECT} WHERE id = ?", (approval_id,)).fetchone()
        return _from_row(r) if r else None

    def list(self, status: Status | None = None, limit: int = 100) -> builtins.list[Approval]:
        with self._lock:
            if status is None:
                rows = self._conn.execute(f"{_SELECT} ORDER BY created_at DESC LIMIT ?", (limit,)).fetchall()
            else:
                rows = self._conn.execute(f"{_SELECT} WHERE status = ? ORDER BY created_at DESC LIMIT ?",
                                          (status, limit)).fetchall()
        return [_from_row(r) for r in rows]

    def decide(self, approval_id: str, status: Literal["approved", "denied"], by: str, role: str, note: str,
               now: float) -> Approval:
        if status not in ("approved", "denied"):
            raise ValueError(f"status: got {status!r}; allowed: approved, denied")

        def tx(c: sqlite3.Connection) -> tuple[Any, ...] | None:
            cur = c.execute(
                "UPDATE approvals SET status = ?, decided_by = ?, decided_role = ?, decided_at = ?, note = ? "
                "WHERE id = ? AND status = 'pending' AND expires_at > ?",
                (status, by, role, now, note, approval_id, now),
            )
            row = c.execute(f"{_SELECT} WHERE id = ?", (approval_id,)).fetchone()
            return (cur.rowcount, row)

        changed, row = self._tx(tx)
        if row is None:
            raise ApprovalError("not_found", f"no approval {approval_id!r}")
        current = _from_row(row)
        if changed == 1:
            return current
        if current.status == "pending":  # past its expiry but not yet marked
            raise ApprovalError("expired", f"approval {approval_id} expired at {current.expires_at:.0f}")
        if current.status == "expired":
            raise ApprovalError("expired", f"approval {approval_id} has expired")
        raise ApprovalError("already_decided",
                            f"approval {approval_id} was already {current.status} by {current.decided_by}")

    def expire_due(self, now: float) -> builtins.list[Approval]:
        def tx(c: sqlite3.Connection) -> builtins.list[tuple[Any, ...]]:
            return c.execute(
                f"UPDATE approvals SET status = 'expired', decided_at = ? WHERE status = 'pending' "
                f"AND expires_at <= ? RETURNING {', '.join(_FIELDS)}", (now, now),
            ).fetchall()

        return [_from_row(r) for r in self._tx(tx)]

    def claim(self, approval_id: str, now: float) -> bool:
        cur = self._tx(lambda c: c.execute(
            "UPDATE approvals SET claimed_at = ? WHERE id = ? AND status = 'approved' AND claimed_at IS NULL",
            (now, approval_id)))
        return bool(cur.rowcount == 1)

    def record_result(self, approval_id: str, result: Mapping[str, Any]) -> None:
        self._tx(lambda c: c.execute("UPDATE approvals SET result = ? WHERE id = ?",
                                     (json.dumps(dict(result), default=str), approval_id)))

    def close(self) -> None:
        with self._lock:
            self._conn.close()
