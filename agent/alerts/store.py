"""Incidents opened by alerts, in SQLite (`$KEEL_HOME/incidents.db`, beside the audit and checkpoint files).

One row per incident (group key, status, services, the alerts' fingerprints and their text, the
investigation's outcome, the Slack thread), plus one row per (incident, fingerprint) so a repeated or
overlapping notification finds the open incident it belongs to. Every change commits before the call
returns: an incident accepted over HTTP survives a crash, and its queued investigation is picked up again.
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

IncidentStatus = Literal["open", "closed"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS incidents (
    id TEXT PRIMARY KEY,
    group_key TEXT NOT NULL,
    status TEXT NOT NULL,
    opened_at REAL NOT NULL,
    closed_at REAL,
    title TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS incidents_group ON incidents(group_key, status);
CREATE INDEX IF NOT EXISTS incidents_opened ON incidents(opened_at);
CREATE TABLE IF NOT EXISTS incident_alerts (
    incident_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status TEXT NOT NULL,
    PRIMARY KEY (incident_id, fingerprint)
);
CREATE INDEX IF NOT EXISTS incident_alerts_fp ON incident_alerts(fingerprint);
"""


@dataclass
class Incident:
    id: str
    group_key: str
    title: str
    services: list[str]
    symptom: str
    request: str
    opened_at: float
    status: IncidentStatus = "open"
    closed_at: float | None = None
    alerts: list[dict[str, Any]] = field(default_factory=list)  # fingerprint, name, status, labels, annotations
    conversation_id: str | None = None
    investigation: dict[str, Any] = field(default_factory=lambda: {"status": "queued"})
    slack: dict[str, Any] = field(default_factory=dict)  # thread (ts or None), deliveries

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_row(cls, doc: str) -> Incident:
        return cls(**json.loads(doc))


def new_incident_id() -> str:
    return "inc-" + uuid.uuid4().hex[:12]


class IncidentStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # ------------------------------------------------------------------ writes
    def save(self, inc: Incident) -> Incident:
        """Insert or replace the incident and its fingerprints in one transaction."""
        with self._lock:
            c = self._conn
            c.execute("BEGIN IMMEDIATE")
            try:
                c.execute("INSERT OR REPLACE INTO incidents (id, group_key, status, opened_at, closed_at, title, doc) "
                          "VALUES (?, ?, ?, ?, ?, ?, ?)", (inc.id, inc.group_key, inc.status, inc.opened_at,
                                                           inc.closed_at, inc.title, json.dumps(inc.to_dict())))
                c.execute("DELETE FROM incident_alerts WHERE incident_id = ?", (inc.id,))
                c.executemany("INSERT INTO incident_alerts (incident_id, fingerprint, status) VALUES (?, ?, ?)",
                              [(inc.id, a["fingerprint"], a["status"]) for a in inc.alerts])
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
        return inc

    def update(self, incident_id: str, **changes: Any) -> Incident:
        """Apply `changes` to the stored incident (KeyError when unknown) and save it."""
        with self._lock:
            inc = self.get(incident_id)
            if inc is None:
                raise KeyError(f"unknown incident {incident_id!r}")
            for k, v in changes.items():
                setattr(inc, k, v)
            return self.save(inc)

    def close_incident(self, incident_id: str, at: float | None = None) -> Incident:
        return self.update(incident_id, status="closed", closed_at=at if at is not None else time.time())

    # ------------------------------------------------------------------ reads
    def get(self, incident_id: str) -> Incident | None:
        with self._lock:
            row = self._conn.execute("SELECT doc FROM incidents WHERE id = ?", (incident_id,)).fetchone()
        return Incident.from_row(row[0]) if row else None

    def open_for(self, group_key: str, fingerprints: list[str]) -> Incident | None:
        """The open incident of this group, else the open incident holding any of these fingerprints."""
        with self._lock:
            row = self._conn.execute("SELECT doc FROM incidents WHERE group_key = ? AND status = 'open' "
                                     "ORDER BY opened_at DESC LIMIT 1", (group_key,)).fetchone()
            if row is None and fingerprints:
                marks = ",".join("?" * len(fingerprints))
                row = self._conn.execute(
                    f"SELECT i.doc FROM incidents i JOIN incident_alerts a ON a.incident_id = i.id "
                    f"WHERE i.status = 'open' AND a.fingerprint IN ({marks}) ORDER BY i.opened_at DESC LIMIT 1",
                    fingerprints).fetchone()
        return Incident.from_row(row[0]) if row else None

    def list(self, status: IncidentStatus | None = None, limit: int = 50) -> list[Incident]:
        """Newest first."""
        q, args = "SELECT doc FROM incidents", []
        if status is not None:
            q, args = q + " WHERE status = ?", [status]
        with self._lock:
            rows = self._conn.execute(q + " ORDER BY opened_at DESC LIMIT ?", [*args, limit]).fetchall()
        return [Incident.from_row(r[0]) for r in rows]

    def count_open(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM incidents WHERE status = 'open'").fetchone()[0])
