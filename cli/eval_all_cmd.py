"""`keel eval all`: every eval's latest figures and plots in evals/REPORT.md."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from cli.common import console, fail


def eval_names(ctx: typer.Context) -> list[str]:
    """The eval commands of the group this command is registered in (`keel eval`), except `all` itself."""
    parent = ctx.parent
    list_commands = getattr(parent.command, "list_commands", None) if parent is not None else None
    names: list[str] = list(list_commands(parent)) if list_commands is not None else []
    return [n for n in names if n != "all"]


def run_all(
    ctx: typer.Context,
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

    names = eval_names(ctx)
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
