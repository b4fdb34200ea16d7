"""`keel doctor`: check every configured backend and say what is wrong and how to fix it."""

from __future__ import annotations

import typer
from rich.table import Table

from agent.cli.common import console, print_json
from agent.doctor import run_checks
from agent.settings import get_settings

STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red"}


def doctor(as_json: bool = typer.Option(False, "--json", help="print the checks as JSON"),
           planner: bool = typer.Option(True, "--planner/--no-planner",
                                        help="also load the planner and plan one request in a child process")) -> None:
    """Probe the metrics, logs and actions backends, the topology and the database named by keel.toml / KEEL_*,
    report the CPU's features, and run one planner call in a child process (a crash in llama.cpp is reported
    with its remedy instead of taking keel down).

    Exits 1 when a check fails (the tools that need that backend would return errors).
    """
    settings = get_settings()
    checks = run_checks(settings, planner=planner)
    failed = any(c.status == "fail" for c in checks)
    if as_json:
        print_json({"ok": not failed, "checks": [c.to_dict() for c in checks]})
    else:
        table = Table("check", "status", "detail", "fix", title="keel doctor")
        for c in checks:
            table.add_row(c.name, f"[{STYLE[c.status]}]{c.status}[/]", c.detail, c.fix)
        console.print(table)
        ok = "[green]all configured backends and the planner answer[/]"
        console.print("[bold red]some checks failed[/]" if failed else ok)
    if failed:
        raise typer.Exit(1)
