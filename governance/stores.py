"""Open the audit and approval stores the settings name: SQLite under KEEL_HOME, or PostgreSQL.

`database_url` empty -> SQLite (`audit_db`, default `$KEEL_HOME/audit.db`); `postgresql://...` -> the
PostgreSQL stores of `governance.postgres`, which several API processes can share.
"""

from __future__ import annotations

from typing import Any

from governance.approvals import ApprovalStore, SqliteApprovalStore
from governance.audit import AuditStore, SqliteAuditStore

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres(url: str) -> bool:
    return url.startswith(POSTGRES_SCHEMES)


def open_stores(settings: Any) -> tuple[AuditStore, ApprovalStore]:
    """(audit store, approval store) for these settings; ValueError names a bad database_url."""
    url = (settings.database_url or "").strip()
    if is_postgres(url):
        from governance.postgres import PostgresApprovalStore, PostgresAuditStore

        return PostgresAuditStore(url), PostgresApprovalStore(url)
    if url:
        raise ValueError(f"database_url: got {url.split('://')[0]!r}://...; allowed: '' (SQLite under KEEL_HOME) "
                         f"or postgresql://user@host:port/dbname")
    path = settings.audit_db_path()
    return SqliteAuditStore(path, sync=settings.audit_sync), SqliteApprovalStore(path)


def verify_store(settings: Any, expect: tuple[int, str] | None = None) -> Any:
    """Verify the configured audit log (SQLite file or PostgreSQL database) without modifying it."""
    url = (settings.database_url or "").strip()
    if is_postgres(url):
        from governance.postgres import verify_postgres

        return verify_postgres(url, expect)
    from governance.audit import verify_sqlite

    return verify_sqlite(settings.audit_db_path(), expect)
