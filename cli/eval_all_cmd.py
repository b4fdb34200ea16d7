"""`keel eval all`: every eval's latest figures and plots in evals/REPORT.md."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from cli.common import console, fail


def eval_names() -> list[str]:
    """The eval commands registered on the shared eval app, except `all` itself."""
    from cli.eval_cmd import app

    names = [c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands]
    return [n for n in names if n and n != "all"]


def run_all(
    run: str = typer.Option("", help="comma-separated evals to run now (default: those with no results yet)"),
    fresh: bool = typer.Option(False, help="run every eval now, ignoring earlier results"),
    results: Path | None = typer.Option(None, help="results directory (default evals/results)"),
    report: Path | None = typer.Option(None, help="report path (default evals/REPORT.md)"),
) -> None:
    """Run the evals that have no results (or those named / all with --fresh), read the rest, write the report.

    Expensive evals (the end-to-end eval with the models) are best run once on their own with
    `keel eval NAME --json evals/results/NAME.json`; this command then reads that file and says when it
    was written.
    """
    from evals import report as rep

    names = eval_names()
    wanted = {n.strip() for n in run.split(",") if n.strip()}
    unknown = wanted - set(names)
    if unknown:
        fail(f"--run: unknown evals {sorted(unknown)}; allowed: {', '.join(names)}")
    results_dir = results or rep.RESULTS_DIR
    if fresh:
        to_run = set(names)
    else:
        to_run = wanted | {n for n in names if not (results_dir / f"{n}.json").exists()}
    path, entries = rep.build(names, to_run, results_dir, report or rep.REPORT_PATH,
                              progress=lambda n, what: console.print(f"[dim]{what} {n}...[/]"))
    table = Table("eval", "figures from", "when (UTC)", "note", title="keel eval all")
    for e in entries:
        table.add_row(e.name, e.source, e.when or "-",
                      e.command if e.source == "ran" else (e.error or str(e.path))[:80])
    console.print(table)
    console.print(f"wrote {path}")
    if any(e.source == "failed" for e in entries):
        raise typer.Exit(1)
