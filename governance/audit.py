"""The append-only audit log: the `AuditStore` protocol and its SQLite implementation.

Storage (SQLite, one file, default `$KEEL_HOME/audit.db`):
- `audit_log`: one row per record: seq (INTEGER PRIMARY KEY), ts, kind, actor, conversation_id,
  action_id, tool, service, data (canonical JSON), prev_hash, hash. Every column but the hash is part
  of the hashed body (see `governance.chain`), so editing any of them is detected. Triggers reject
  UPDATE and DELETE, so the log is append-only unless someone removes them deliberately; verification
  catches what they then do.
- `audit_anchor`: a single row holding the newest record's (seq, hash), updated in the same transaction
  as every append. A pure hash chain cannot see its tail cut off; comparing the chain's end with this
  anchor can. Being in the same file it catches truncation by anything that is not also rewriting the
  anchor (a crash, a bad copy, a careless `DELETE ... WHERE seq > N`); against someone who edits both,
  keep the head that `keel audit verify` prints somewhere else and pass it back with `--expect-head`.

Concurrency and durability:
- WAL journal, `busy_timeout`, and BEGIN IMMEDIATE around every append: the writer lock is taken before
  reading the anchor, so reading the previous hash and inserting the record happen in one transaction
  and several processes can append to one file without forking the chain. Waiting for the write lock
  polls every millisecond or so (see `_begin_write`) so that busy writers take turns.
- Group commit within a process (`governance.group_commit`): threads appending at the same time hand
  their records to whichever of them is committing; it writes every waiting caller's records in ONE
  transaction (BEGIN IMMEDIATE, read the anchor, seal each caller's records in arrival order, move the
  anchor, COMMIT: one fsync) and then returns each caller its sealed records. `append` and
  `append_many` still return only once their records are committed; a lone caller commits at once (no
  timer). A batch holds the callers that arrived while the previous commit was fsyncing, plus those
  arriving while the leader waits for the write lock and writes the rows (up to its COMMIT). Each
  caller's records stay contiguous and share one ts; a caller whose records cannot be sealed (data
  that is not JSON) gets the error and the others commit without it.
- `synchronous=FULL` by default: in WAL mode every COMMIT fsyncs the WAL before returning, so a record
  (in particular `action_started`, written before the action runs) survives a process kill, an OS crash
  and power loss. `sync="normal"` (WAL + synchronous=NORMAL) fsyncs only at checkpoints: a committed
  record survives the process being killed (it is in the WAL in the OS page cache) but the newest ones
  may roll back after an OS crash or power loss. It is several times faster; choose it knowingly.
  Appends with `durable=False` (the gate's read-tool records) use NORMAL for that commit only; the next
  FULL commit makes them durable too, as they precede it in the same WAL file. A batch holding any
  durable append commits with the store's mode.
- Verification reads the anchor and streams the rows inside one read transaction (a consistent
  snapshot, so it can run while others append).

A PostgreSQL store implements the same protocol (one table + an anchor row, `SELECT ... FOR UPDATE` on
the anchor in place of BEGIN IMMEDIATE) and reuses `governance.chain` for sealing and verifying.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from governance.chain import GENESIS, NewRecord, StoredRecord, VerifyReport, seal, verify_chain
from governance.group_commit import GroupCommit, More

SyncMode = Literal["full", "normal"]
COLUMNS = "seq, ts, kind, actor, conversation_id, action_id, tool, service, data, prev_hash, hash"
INSERT = f"INSERT INTO audit_log ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
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
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT OR IGNORE INTO audit_anchor (id, seq, hash) VALUES (1, 0, '{GENESIS}');
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
"""


class AuditError(RuntimeError):
    """The audit store cannot be opened or read (missing file, not an audit log)."""


class AuditStore(Protocol):
    """What governance needs from an audit log. Implementations: SqliteAuditStore (PostgreSQL later)."""

    def append(self, record: NewRecord, durable: bool = True) -> StoredRecord: ...

    def append_many(self, records: Sequence[NewRecord], durable: bool = True) -> list[StoredRecord]:
        """Append in one transaction, in order; durable once this returns (see the module notes)."""
        ...

    def records(self, after_seq: int = 0) -> Iterator[StoredRecord]:
        """Stream records in seq order."""
        ...

    def tail(self, n: int = 20) -> list[StoredRecord]: ...

    def records_for_action(self, action_id: str) -> list[StoredRecord]: ...

    def count_actions(self, service: str, since: float, tools: Collection[str]) -> int:
        """action_started records of these tools on `service` with ts >= since (the rate-limit history)."""
        ...

    def head(self) -> tuple[int, str]:
        """(seq, hash) of the newest record, from the anchor; (0, GENESIS) when empty."""
        ...

    def verify(self, expect: tuple[int, str] | None = None) -> VerifyReport: ...

    def close(self) -> None: ...


_row = StoredRecord._make


@dataclass(frozen=True)
class _Append:
    """One caller's `append_many`: its records, committed together and in order."""

    records: Sequence[NewRecord]
    durable: bool


def _seal_all(records: Sequence[NewRecord], seq: int, prev: str, now: float) -> list[StoredRecord]:
    """Seal records after (seq, prev); those without their own ts get `now`."""
    out = []
    for rec in records:
        seq += 1
        sealed = seal(rec, seq, rec.ts if rec.ts is not None else now, prev)
        prev = sealed.hash
        out.append(sealed)
    return out


class SqliteAuditStore:
    """The audit log in one SQLite file; safe to share between threads and processes."""

    def __init__(self, path: Path | str, sync: SyncMode = "full", busy_timeout_s: float = 30.0,
                 clock: Callable[[], float] = time.time) -> None:
        if sync not in ("full", "normal"):
            raise ValueError(f"sync: got {sync!r}; allowed: full, normal")
        self.path = Path(path)
        self.sync: SyncMode = sync
        self.clock = clock
        self._busy_ms = int(busy_timeout_s * 1000)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.batches: GroupCommit[_Append, list[StoredRecord]] = GroupCommit(self._commit)
        self._conn = self._connect()
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._current_sync = ""
        self._set_sync(sync)
        try:
            self._conn.executescript("BEGIN IMMEDIATE;" + SCHEMA + "COMMIT;")
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                               timeout=self._busy_ms / 1000)
        conn.execute(f"PRAGMA busy_timeout={self._busy_ms}")
        return conn

    def _begin_write(self) -> None:
        """BEGIN IMMEDIATE, polling about every millisecond until the busy timeout.

        SQLite's own busy handler sleeps with a backoff that reaches 100 ms, while a writer in a loop
        frees the lock for microseconds between commits: a second writer would starve. Short polls with
        jitter let concurrent writers take turns."""
        conn = self._conn
        conn.execute("PRAGMA busy_timeout=0")
        try:
            deadline = time.monotonic() + self._busy_ms / 1000
            while True:
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as e:
                    if "locked" not in str(e) and "busy" not in str(e) or time.monotonic() > deadline:
                        raise
                    time.sleep(random.uniform(0.0002, 0.0015))
        finally:
            conn.execute(f"PRAGMA busy_timeout={self._busy_ms}")

    def _set_sync(self, mode: str) -> None:
        if mode != self._current_sync:
            self._conn.execute(f"PRAGMA synchronous={mode.upper()}")
            self._current_sync = mode

    # ------------------------------------------------------------ writing

    def append(self, record: NewRecord, durable: bool = True) -> StoredRecord:
        return self.append_many([record], durable)[0]

    def append_many(self, records: Sequence[NewRecord], durable: bool = True) -> list[StoredRecord]:
        if not records:
            return []
        return self.batches.submit(_Append(tuple(records), durable))

    def _commit(self, first: Sequence[_Append], more: More[_Append]) -> list[list[StoredRecord] | Exception]:
        """Write `first`, and whatever `more()` hands over until the COMMIT, in one transaction: one fsync
        under FULL, whatever the number of callers."""
        mode = self.sync if any(a.durable for a in first) else "normal"
        # a transaction cannot change its synchronous level: one committed NORMAL (all of `first` asked
        # for durable=False in a FULL store) takes no one else, as a later caller may need FULL
        join = mode == self.sync
        with self._lock:
            self._set_sync(mode)
            conn = self._conn
            self._begin_write()
            try:
                seq, prev = conn.execute("SELECT seq, hash FROM audit_anchor WHERE id = 1").fetchone()
                head = seq
                now = self.clock()  # taken under the write lock: ts follows seq within one clock
                out: list[list[StoredRecord] | Exception] = []
                batch = first
                while batch:
                    rows: list[StoredRecord] = []
                    for a in batch:
                        try:
                            sealed = _seal_all(a.records, seq, prev, now)
                        except Exception as e:  # this caller's records only (e.g. data that is not JSON)
                            out.append(e)
                            continue
                        seq, prev = sealed[-1].seq, sealed[-1].hash
                        rows.extend(sealed)
                        out.append(sealed)
                    conn.executemany(INSERT, rows)
                    batch = more() if join else []
                if seq != head:
                    conn.execute("UPDATE audit_anchor SET seq = ?, hash = ? WHERE id = 1", (seq, prev))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return out

    # ------------------------------------------------------------ reading

    def records(self, after_seq: int = 0) -> Iterator[StoredRecord]:
        conn = self._connect()
        try:
            cur = conn.execute(f"SELECT {COLUMNS} FROM audit_log WHERE seq > ? ORDER BY seq", (after_seq,))
            for r in cur:
                yield _row(r)
        finally:
            conn.close()

    def tail(self, n: int = 20) -> list[StoredRecord]:
        with self._lock:
            rows = self._conn.execute(f"SELECT {COLUMNS} FROM audit_log ORDER BY seq DESC LIMIT ?", (n,)).fetchall()
        return [_row(r) for r in reversed(rows)]

    def records_for_action(self, action_id: str) -> list[StoredRecord]:
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {COLUMNS} FROM audit_log WHERE action_id = ? ORDER BY seq", (action_id,)
            ).fetchall()
        return [_row(r) for r in rows]

    def count_actions(self, service: str, since: float, tools: Collection[str]) -> int:
        names = sorted(tools)
        if not names:
            return 0
        marks = ", ".join("?" * len(names))
        with self._lock:
            (n,) = self._conn.execute(
                f"SELECT COUNT(*) FROM audit_log WHERE kind = 'action_started' AND service = ? AND ts >= ? "
                f"AND tool IN ({marks})", (service, since, *names),
            ).fetchone()
        return int(n)

    def head(self) -> tuple[int, str]:
        with self._lock:
            seq, h = self._conn.execute("SELECT seq, hash FROM audit_anchor WHERE id = 1").fetchone()
        return int(seq), str(h)

    def verify(self, expect: tuple[int, str] | None = None) -> VerifyReport:
        return verify_sqlite(self.path, expect)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> SqliteAuditStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _stream(conn: sqlite3.Connection) -> Iterator[StoredRecord]:
    for r in conn.execute(f"SELECT {COLUMNS} FROM audit_log ORDER BY seq"):
        yield _row(r)


def verify_sqlite(path: Path | str, expect: tuple[int, str] | None = None) -> VerifyReport:
    """Verify an audit database without modifying it: anchor and rows from one read snapshot, streamed."""
    p = Path(path)
    if not p.is_file():
        raise AuditError(f"no audit log at {p}")
    conn = sqlite3.connect(f"file:{p}?mode=ro", uri=True, isolation_level=None, timeout=30)
    try:
        conn.execute("BEGIN")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "audit_log" not in tables:
            raise AuditError(f"{p} is not a keel audit log (no audit_log table)")
        anchor = None
        if "audit_anchor" in tables:
            row = conn.execute("SELECT seq, hash FROM audit_anchor WHERE id = 1").fetchone()
            anchor = (int(row[0]), str(row[1])) if row else None
        report = verify_chain(_stream(conn), anchor, expect)
        conn.execute("COMMIT")
        return report
    except sqlite3.DatabaseError as e:
        raise AuditError(f"cannot read {p}: {e}") from None
    finally:
        conn.close()
