"""The LangGraph checkpointer the settings name: SQLite under KEEL_HOME, or PostgreSQL (shared by replicas).

`checkpointer_from_settings(settings)` returns a ready saver (tables created). For PostgreSQL it is a
`PostgresSaver` over a small connection pool (autocommit, dict rows, no prepared statements, as
langgraph-checkpoint-postgres requires); `setup()` runs under an advisory lock so several processes
starting at once do not race on the migrations. Close it with `close_checkpointer`.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

SETUP_LOCK = 0x6B65656D  # serialises checkpoint migrations between processes


def postgres_checkpointer(url: str, max_connections: int = 8) -> BaseCheckpointSaver:
    import psycopg
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool

    pool = ConnectionPool(url, min_size=1, max_size=max_connections, open=False,
                          kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row})
    pool.open(wait=True, timeout=10)
    saver = PostgresSaver(pool)  # type: ignore[arg-type]
    with psycopg.connect(url, autocommit=True) as lock_conn:
        lock_conn.execute("SELECT pg_advisory_lock(%s)", (SETUP_LOCK,))
        try:
            saver.setup()
        finally:
            lock_conn.execute("SELECT pg_advisory_unlock(%s)", (SETUP_LOCK,))
    return saver


def checkpointer_from_settings(settings: Any) -> BaseCheckpointSaver:
    """PostgresSaver when `database_url` is postgresql://..., else a SqliteSaver on `checkpoint_path`."""
    from governance.stores import is_postgres

    url = (settings.database_url or "").strip()
    if is_postgres(url):
        return postgres_checkpointer(url)
    from langgraph.checkpoint.sqlite import SqliteSaver

    path = settings.checkpoint_path
    path.parent.mkdir(parents=True, exist_ok=True)
    saver = SqliteSaver(sqlite3.connect(path, check_same_thread=False))
    saver.setup()
    return saver


def close_checkpointer(saver: BaseCheckpointSaver) -> None:
    conn: Any = getattr(saver, "conn", None)
    if conn is not None and hasattr(conn, "close"):
        conn.close()
