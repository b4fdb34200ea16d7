"""`keel sim run|faults`: drive the embedded simulator from the command line."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from agent.cli.common import console, print_json, simulate
from tools.backends.sim.faults import FAULT_TYPES
from tools.backends.sim.model import IDX, METRIC_NAMES, M
from tools.services import SERVICES

app = typer.Typer(help="Run the simulated cluster.", no_args_is_help=True)


@app.command("run")
def run(
    scenario: Path | None = typer.Option(None, help="scenario file (YAML/JSON); default: diurnal load, no faults"),
    minutes: int = typer.Option(60, min=1, max=60 * 24 * 28, help="minutes to simulate"),
    as_json: bool = typer.Option(False, "--json", help="print every minute's metrics as JSON"),
) -> None:
    """Simulate MINUTES minutes and print the final state of every service (or the full history as JSON)."""
    sc, sim, _ = simulate(scenario, minutes)
    hist = sim.history
    if as_json:
        print_json({
            "scenario": sc.name, "minutes": minutes, "load": sim.load.description,
            "faults": [f.__dict__ for f in sim.faults],
            "events": [e.__dict__ for e in sim.events],
            "metrics": {
                s: {m: [round(float(v), 4) for v in hist[:, IDX[s], M[m]]] for m in METRIC_NAMES} for s in SERVICES
            },
        })
        return
    table = Table(title=f"minute {minutes - 1} of {sc.name or 'scenario'} ({sim.load.description})")
    for col in ("service", "replicas", "cpu %", "mem MB", "p50 ms", "p99 ms", "errors %", "rps", "queue"):
        table.add_column(col, justify="right" if col != "service" else "left")
    for s in SERVICES:
        r = hist[-1, IDX[s]]
        table.add_row(
            s, f"{r[M['replicas']]:.0f}", f"{r[M['cpu']]:.0f}", f"{r[M['memory']]:.0f}", f"{r[M['latency_p50']]:.0f}",
            f"{r[M['latency_p99']]:.0f}", f"{100 * r[M['error_rate']]:.2f}", f"{r[M['throughput']]:.0f}",
            f"{r[M['queue_depth']]:.0f}",
        )
    console.print(table)
    active = sim.active_faults()
    if active:
        console.print("active faults: " + ", ".join(f"{f.type} on {f.service}" for f in active))
    for e in sim.events[-10:]:
        console.print(f"[dim]minute {e.minute}: {e.service} {e.kind}: {e.detail}[/]")


@app.command("faults")
def faults() -> None:
    """List the fault types a scenario can inject."""
    table = Table("fault", "effect")
    for name, desc in FAULT_TYPES.items():
        table.add_row(name, desc)
    console.print(table)
