"""`keel bench NAME`: benchmarks that print medians and ratios and write {"bench", "figures"} JSON."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import typer
from rich.table import Table

from agent.cli.common import console, write_json
from tools.backends.sim.cluster import Simulator
from tools.backends.sim.faults import Fault
from tools.backends.sim.load import LoadCurve

app = typer.Typer(help="Benchmarks (medians over repeats).", no_args_is_help=True)

JsonOpt = typer.Option(None, "--json", help="write {bench, figures} to this path")


def report(name: str, figures: dict[str, float], targets: dict[str, str], json_path: Path | None) -> None:
    table = Table("figure", "median", "target", title=f"keel bench {name}")
    for k, v in figures.items():
        table.add_row(k, f"{v:.4g}", targets.get(k, ""))
    console.print(table)
    write_json(json_path, {"bench": name, "figures": figures})


@app.command("sim")
def bench_sim(
    repeats: int = typer.Option(7, min=1, help="simulated days to time"),
    clones: int = typer.Option(200, min=1, help="clones to time"),
    json_path: Path | None = JsonOpt,
) -> None:
    """One simulated day (1440 one-minute steps, all 11 services, a fault) and clone() of a day-old cluster."""
    faults = [Fault("memory_leak", "cartservice", 300, 600, 0.5), Fault("cpu_hog", "currencyservice", 900, 60, 0.8)]
    days = []
    sim = Simulator()
    for r in range(repeats):
        sim = Simulator(LoadCurve.diurnal(seed=r), faults, seed=r)
        t0 = time.perf_counter()
        sim.step(1440)
        days.append(time.perf_counter() - t0)
    clone_times = []
    for _ in range(clones):
        t0 = time.perf_counter()
        sim.clone()
        clone_times.append((time.perf_counter() - t0) * 1000)
    day_s, clone_ms = statistics.median(days), statistics.median(clone_times)
    console.print(f"day: median {day_s:.3f}s over {repeats} (target < 0.5 s, {0.5 / day_s:.1f}x headroom); "
                  f"clone: median {clone_ms:.3f} ms over {clones} (target < 5 ms, {5 / clone_ms:.1f}x headroom)")
    report("sim", {"day_s": day_s, "clone_ms": clone_ms}, {"day_s": "< 0.5", "clone_ms": "< 5"}, json_path)
