"""PostgreSQL audit log and approvals, for several API processes sharing one database.

Same protocols, tables and semantics as the SQLite stores (`governance.audit`, `governance.approvals`);
the chain itself (canonical JSON, sealing, verification) is `governance.chain`, not repeated here.
- Appends: one transaction that locks the anchor row (`SELECT ... FOR UPDATE`), reads the previous
  hash, inserts the records and moves the anchor. Writers on any number of connections and processes
  queue on that row lock, so the chain never forks. `durable=False` sets `synchronous_commit = off`
  for that transaction only (a later durable commit flushes it too).
- Append-only: triggers reject UPDATE, DELETE and TRUNCATE on `audit_log`.
- Approvals: each transition is one conditional UPDATE (`... WHERE status = 'pending' AND expires_at > now`);
  PostgreSQL re-checks the condition after a concurrent update commits, so a decision or a claim is
  taken by exactly one caller.
- Verification reads the anchor and streams the rows (server-side cursor) in one REPEATABLE READ,
  READ ONLY transaction: a consistent snapshot while others append.
Database errors surface as `PostgresStoreError`, an OSError, which the gate treats like any storage
failure (the call returns an error envelope; nothing runs without its audit record).
"""

from __future__ import annotations

import builtins
import json
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import Any, Literal, TypeVar

import psycopg
from psycopg_pool import ConnectionPool

from governance.approvals import _FIELDS, Approval, ApprovalError, Status, _from_row
from governance.audit import COLUMNS, AuditError
from governance.chain import GENESIS, NewRecord, StoredRecord, VerifyReport, seal, verify_chain

T = TypeVar("T")
SCHEMA_LOCK = 0x6B65656C  # "keel": serialises schema creation between processes

AUDIT_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS audit_log (
    seq BIGINT PRIMARY KEY,
    ts DOUBLE PRECISION NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT,
    conversation_id TEXT,
    action_id TEXT,
    tool TEXT,
    service TEXT,
    data TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_rate ON audit_log(kind, service, ts);
CREATE INDEX IF NOT EXISTS audit_log_action ON audit_log(action_id);
CREATE TABLE IF NOT EXISTS audit_anchor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_anchor (id, seq, hash) VALUES (1, 0, '{GENESIS}') ON CONFLICT (id) DO NOTHING;
CREATE OR REPLACE FUNCTION keel_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$;
CREATE OR REPLACE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION keel_audit_append_only();
CREATE OR REPLACE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION keel_audit_append_only();
"""

APPROVALS_SCHEMA = """
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
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'expired')),
    decided_by TEXT,
    decided_role TEXT,
    decided_at DOUBLE PRECISION,
    note TEXT NOT NULL DEFAULT '',
    claimed_at DOUBLE PRECISION,
    result TEXT,
    run_id TEXT
);
ALTER TABLE approvals ADD COLUMN IF NOT EXISTS run_id TEXT;
CREATE INDEX IF NOT EXISTS approvals_status ON approvals(status, expires_at);
"""


class PostgresStoreError(OSError):
    """The PostgreSQL store failed (unreachable, refused, bad schema). The message names the database."""


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql (unparseable URL)"
    user = f"{info['user']}@" if info.get("user") else ""
    return f"postgresql://{user}{info.get('host', 'localhost')}:{info.get('port', '5432')}/{info.get('dbname', '')}"


class _Pg:
    """A small connection pool plus error translation, shared by both stores."""

    def __init__(self, url: str, schema: str, max_connections: int, connect_timeout_s: float) -> None:
        self.url = url
        self.where = redact(url)
        try:  # one direct attempt first: fails fast with the server's own message
            psycopg.connect(url, connect_timeout=max(1, int(connect_timeout_s))).close()
        except psycopg.Error as e:
            raise PostgresStoreError(f"{self.where}: cannot connect: {str(e).strip()}") from e
        self.pool = ConnectionPool(url, min_size=1, max_size=max_connections, open=False, timeout=30,
                                   kwargs={"autocommit": True, "connect_timeout": max(1, int(connect_timeout_s))})
        try:
            self.pool.open(wait=True, timeout=connect_timeout_s)
        except Exception as e:
            self.pool.close()
            raise PostgresStoreError(f"{self.where}: cannot connect (is PostgreSQL running and the URL right?): "
                                     f"{e}") from e
        self.run(lambda c: (c.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,)), c.execute(schema)))

    def run(self, fn: Callable[[psycopg.Connection], T], *, durable: bool = True) -> T:
        """Run `fn(conn)` in one transaction; database errors become PostgresStoreError."""
        try:
            with self.pool.connection() as conn, conn.transaction():
                if not durable:
                    conn.execute("SET LOCAL synchronous_commit = off")
                return fn(conn)
        except psycopg.Error as e:
            raise PostgresStoreError(f"{self.where}: {type(e).__name__}: {str(e).strip()}") from e
        except Exception as e:
            if type(e).__name__ == "PoolTimeout":
                raise PostgresStoreError(f"{self.where}: no connection available: {e}") from e
            raise

    def close(self) -> None:
        self.pool.close()


class PostgresAuditStore:
    """The audit log in PostgreSQL; safe to share between threads and processes."""

    def __init__(self, url: str, *, max_connections: int = 4, connect_timeout_s: float = 5.0) -> None:
        self._pg = _Pg(url, AUDIT_SCHEMA, max_connections, connect_timeout_s)
        self.url = url

    def append(self, record: NewRecord, durable: bool = True) -> StoredRecord:
        return self.append_many([record], durable)[0]

    def append_many(self, records: Sequence[NewRecord], durable: bool = True) -> list[StoredRecord]:
        if not records:
            return []

        def tx(conn: psycopg.Connection) -> list[StoredRecord]:
            row = conn.execute("SELECT seq, hash FROM audit_anchor WHERE id = 1 FOR UPDATE").fetchone()
            if row is None:
                raise PostgresStoreError(f"{self._pg.where}: the audit anchor row is missing")
            seq, prev = int(row[0]), str(row[1])
            now = time.time()
            out = []
            with conn.cursor() as cur:
                for rec in records:
                    seq += 1
                    s = seal(rec, seq, rec.ts if rec.ts is not None else now, prev)
                    cur.execute(f"INSERT INTO audit_log ({COLUMNS}) VALUES ({_MARKS})", tuple(s))
                    prev = s.hash
                    out.append(s)
                cur.execute("UPDATE audit_anchor SET seq = %s, hash = %s WHERE id = 1", (seq, prev))
            return out

        return self._pg.run(tx, durable=durable)

    def records(self, after_seq: int = 0) -> Iterator[StoredRecord]:
        try:
            with self._pg.pool.connection() as conn, conn.transaction(), conn.cursor(name="keel_audit_records") as cur:
                cur.execute(f"SELECT {COLUMNS} FROM audit_log WHERE seq > %s ORDER BY seq", (after_seq,))
                for r in cur:
                    yield _row(r)
        except psycopg.Error as e:
            raise PostgresStoreError(f"{self._pg.where}: {e}") from e

    def tail(self, n: int = 20) -> list[StoredRecord]:
        rows = self._pg.run(lambda c: c.execute(
            f"SELECT {COLUMNS} FROM audit_log ORDER BY seq DESC LIMIT %s", (n,)).fetchall())
        return [_row(r) for r in reversed(rows)]

    def records_for_action(self, action_id: str) -> list[StoredRecord]:
        rows = self._pg.run(lambda c: c.execute(
            f"SELECT {COLUMNS} FROM audit_log WHERE action_id = %s ORDER BY seq", (action_id,)).fetchall())
        return [_row(r) for r in rows]

    def count_actions(self, service: str, since: float, tools: Collection[str]) -> int:
        names = sorted(tools)
        if not names:
            return 0
        row = self._pg.run(lambda c: c.execute(
            "SELECT COUNT(*) FROM audit_log WHERE kind = 'action_started' AND service = %s AND ts >= %s "
            "AND tool = ANY(%s)", (service, since, names)).fetchone())
        return int(row[0]) if row else 0

    def head(self) -> tuple[int, str]:
        row = self._pg.run(lambda c: c.execute("SELECT seq, hash FROM audit_anchor WHERE id = 1").fetchone())
        if row is None:
            raise PostgresStoreError(f"{self._pg.where}: the audit anchor row is missing")
        return int(row[0]), str(row[1])

    def verify(self, expect: tuple[int, str] | None = None) -> VerifyReport:
        return verify_postgres(self.url, expect)

    def close(self) -> None:
        self._pg.close()

    def __enter__(self) -> PostgresAuditStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_row = StoredRecord._make
_MARKS = ", ".join(["%s"] * len(COLUMNS.split(",")))


def verify_postgres(url: str, expect: tuple[int, str] | None = None) -> VerifyReport:
    """Verify the audit log in one REPEATABLE READ snapshot, streaming the rows; modifies nothing."""
    where = redact(url)
    try:
        with psycopg.connect(url, connect_timeout=10) as conn:
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            with conn.transaction():
                tables = {r[0] for r in conn.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")}
                if "audit_log" not in tables:
                    raise AuditError(f"{where} holds no keel audit log (no audit_log table)")
                anchor = None
                if "audit_anchor" in tables:
                    row = conn.execute("SELECT seq, hash FROM audit_anchor WHERE id = 1").fetchone()
                    anchor = (int(row[0]), str(row[1])) if row else None
                with conn.cursor(name="keel_audit_verify") as cur:
                    cur.itersize = 2000
                    cur.execute(f"SELECT {COLUMNS} FROM audit_log ORDER BY seq")
                    return verify_chain((_row(r) for r in cur), anchor, expect)
    except psycopg.Error as e:
        raise AuditError(f"cannot read {where}: {e}") from None


class PostgresApprovalStore:
    """Approvals in PostgreSQL; each transition is a single conditional UPDATE."""

    def __init__(self, url: str, *, max_connections: int = 4, connect_timeout_s: float = 5.0) -> None:
        self._pg = _Pg(url, APPROVALS_SCHEMA, max_connections, connect_timeout_s)

    def create(self, approval: Approval) -> Approval:
        d = approval.to_dict()
        d["args"], d["reasons"] = json.dumps(d["args"], sort_keys=True), json.dumps(d["reasons"])
        d["result"] = json.dumps(d["result"]) if d["result"] is not None else None
        marks = ", ".join(["%s"] * len(_FIELDS))
        self._pg.run(lambda c: c.execute(f"INSERT INTO approvals ({', '.join(_FIELDS)}) VALUES ({marks})",
                                         tuple(d[f] for f in _FIELDS)))
        return approval

    def get(self, approval_id: str) -> Approval | None:
        r = self._pg.run(lambda c: c.execute(f"{_SELECT} WHERE id = %s", (approval_id,)).fetchone())
        return _from_row(tuple(r)) if r else None

    def list(self, status: Status | None = None, limit: int = 100) -> builtins.list[Approval]:
        if status is None:
            rows = self._pg.run(lambda c: c.execute(
                f"{_SELECT} ORDER BY created_at DESC LIMIT %s", (limit,)).fetchall())
        else:
            rows = self._pg.run(lambda c: c.execute(
                f"{_SELECT} WHERE status = %s ORDER BY created_at DESC LIMIT %s", (status, limit)).fetchall())
        return [_from_row(tuple(r)) for r in rows]

    def decide(self, approval_id: str, status: Literal["approved", "denied"], by: str, role: str, note: str,
               now: float) -> Approval:
        if status not in ("approved", "denied"):
            raise ValueError(f"status: got {status!r}; allowed: approved, denied")

        def tx(c: psycopg.Connection) -> tuple[bool, Any]:
            changed = c.execute(
                f"UPDATE approvals SET status = %s, decided_by = %s, decided_role = %s, decided_at = %s, note = %s "
                f"WHERE id = %s AND status = 'pending' AND expires_at > %s RETURNING {', '.join(_FIELDS)}",
                (status, by, role, now, note, approval_id, now),
            ).fetchone()
            if changed is not None:
                return True, changed
            return False, c.execute(f"{_SELECT} WHERE id = %s", (approval_id,)).fetchone()

        changed, row = self._pg.run(tx)
        if row is None:
            raise ApprovalError("not_found", f"no approval {approval_id!r}")
        current = _from_row(tuple(row))
        if changed:
            return current
        if current.status in ("pending", "expired"):
            raise ApprovalError("expired", f"approval {approval_id} has expired")
        raise ApprovalError("already_decided",
                            f"approval {approval_id} was already {current.status} by {current.decided_by}")

    def expire_due(self, now: float) -> builtins.list[Approval]:
        rows = self._pg.run(lambda c: c.execute(
            f"UPDATE approvals SET status = 'expired', decided_at = %s WHERE status = 'pending' "
            f"AND expires_at <= %s RETURNING {', '.join(_FIELDS)}", (now, now)).fetchall())
        return [_from_row(tuple(r)) for r in rows]

    def claim(self, approval_id: str, now: float) -> bool:
        row = self._pg.run(lambda c: c.execute(
            "UPDATE approvals SET claimed_at = %s WHERE id = %s AND status = 'approved' AND claimed_at IS NULL "
            "RETURNING id", (now, approval_id)).fetchone())
        return row is not None

    def record_result(self, approval_id: str, result: Mapping[str, Any]) -> None:
        self._pg.run(lambda c: c.execute("UPDATE approvals SET result = %s WHERE id = %s",
                                         (json.dumps(dict(result), default=str), approval_id)))

    def close(self) -> None:
        self._pg.close()


_SELECT = f"SELECT {', '.join(_FIELDS)} FROM approvals"
