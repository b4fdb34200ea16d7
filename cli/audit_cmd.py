"""`keel audit verify|tail|export`: check and read the hash-chained audit log.

The log is the SQLite file `--db` names, else the one the settings name: `database_url` (PostgreSQL)
when set, else `audit_db` (default `$KEEL_HOME/audit.db`).
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.table import Table

from cli.common import EXIT_BAD_INPUT, console, err_console, fail, print_json
from config.settings import get_settings
from governance.audit import AuditError, AuditStore, SqliteAuditStore, verify_sqlite
from governance.chain import StoredRecord
from governance.stores import is_postgres, open_stores, verify_store

app = typer.Typer(help="The tamper-evident audit log: verify, tail, export.", no_args_is_help=True)

DbOpt = typer.Option(None, "--db", help="audit database (default: $KEEL_HOME/audit.db or settings audit_db)")


def db_path(db: Path | None) -> Path:
    return db if db is not None else get_settings().audit_db_path()


def _existing(db: Path | None) -> Path:
    path = db_path(db)
    if not path.is_file():
        fail(f"no audit log at {path}", EXIT_BAD_INPUT)
    return path


def _postgres(db: Path | None) -> bool:
    return db is None and is_postgres((get_settings().database_url or "").strip())


def _open(db: Path | None) -> AuditStore:
    if _postgres(db):
        return open_stores(get_settings())[0]
    return SqliteAuditStore(_existing(db), sync=get_settings().audit_sync)


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _parse_head(text: str) -> tuple[int, str]:
    seq, _, h = text.partition(":")
    if not seq.isdigit() or len(h) != 64 or any(c not in "0123456789abcdef" for c in h):
        fail(f"--expect-head: got {text!r}; expected SEQ:HASH with a 64-hex-digit SHA-256 (as verify prints)")
    return int(seq), h


@app.command("verify")
def verify(
    db: Path | None = DbOpt,
    as_json: bool = typer.Option(False, "--json", help="print the report as JSON"),
    expect_head: str | None = typer.Option(None, help="an externally kept checkpoint SEQ:HASH that must still hold"),
) -> None:
    """Verify the hash chain and its anchor. Exits 0 if intact, 1 naming the first broken record.

    Also lists actions started without a result (incomplete: the process stopped while they ran).
    """
    expect = _parse_head(expect_head) if expect_head else None
    try:
        if _postgres(db):
            report = verify_store(get_settings(), expect)
        else:
            report = verify_sqlite(_existing(db), expect)
    except (AuditError, OSError) as e:
        fail(str(e))
    if as_json:
        print_json(report.to_dict())
    else:
        if report.ok:
            console.print(f"[green]ok[/]: {report.records} records, chain and anchor intact; "
                          f"head {report.head_seq}:{report.head_hash}")
        else:
            console.print(f"[bold red]BROKEN[/] {report.broken} ({report.records} records verified before it)")
        if report.incomplete:
            table = Table("seq", "action_id", "tool", "service", "started", title="incomplete actions (no result)")
            for i in report.incomplete:
                table.add_row(str(i.seq), i.action_id, i.tool or "", i.service or "", _when(i.ts))
            console.print(table)
    if not report.ok:
        raise typer.Exit(1)


def _line(r: StoredRecord) -> str:
    data = json.dumps(r.data, ensure_ascii=False, sort_keys=True)
    target = f"{r.tool or ''}{f'({r.service})' if r.service else ''}"
    return (f"{r.seq:>6}  {_when(r.ts)}  {r.kind:<14} {r.actor or '-':<10} {target:<36} "
            f"{(r.action_id or '-')[:12]:<12}  {data if len(data) <= 160 else data[:157] + '...'}")


@app.command("tail")
def tail(
    n: int = typer.Option(20, "-n", "--lines", min=1, max=100_000, help="how many of the newest records"),
    db: Path | None = DbOpt,
    as_json: bool = typer.Option(False, "--json", help="print the records as a JSON list"),
) -> None:
    """Print the newest N records, oldest first."""
    store = _open(db)
    try:
        records = store.tail(n)
    finally:
        store.close()
    if as_json:
        print_json([r.to_dict() for r in records])
        return
    console.print(f"{'seq':>6}  {'time (UTC)':<19}  {'kind':<14} {'actor':<10} {'tool(service)':<36} "
                  f"{'action':<12}  data", style="bold", highlight=False)
    for r in records:
        console.print(_line(r), markup=False, highlight=False, soft_wrap=True)


@app.command("export")
def export(
    jsonl: bool = typer.Option(True, "--jsonl", help="one JSON record per line (the only format)"),
    db: Path | None = DbOpt,
    out: Path | None = typer.Option(None, "--out", "-o", help="write here instead of standard output"),
    after_seq: int = typer.Option(0, min=0, help="only records after this seq"),
) -> None:
    """Export the records (hashed fields, prev_hash, hash) as JSON lines, streamed in seq order."""
    store = _open(db)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
    sink = out.open("w", encoding="utf-8") if out else sys.stdout
    count = 0
    try:
        for r in store.records(after_seq=after_seq):
            sink.write(json.dumps(r.to_dict(), ensure_ascii=False, sort_keys=True) + "\n")
            count += 1
    finally:
        store.close()
        if out:
            sink.close()
    if out:
        err_console.print(f"exported {count} records to {out}")
