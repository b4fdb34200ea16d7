"""Helpers shared by CLI commands: JSON output, exit codes, building a simulator context from a scenario."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console

from tools.backends.base import ToolContext
from tools.backends.sim.cluster import Simulator
from tools.backends.sim.scenario import Scenario, load_scenario

console = Console()
err_console = Console(stderr=True)

EXIT_BAD_INPUT = 2


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")


def write_json(path: Path | None, obj: Any) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(obj, indent=2, default=str) + "\n")


def scenario_or_default(path: Path | None) -> Scenario:
    if path is None:
        return Scenario(name="quiet")
    try:
        return load_scenario(path)
    except (ValueError, FileNotFoundError) as e:
        fail(str(e))


def simulate(path: Path | None, at: int | None) -> tuple[Scenario, Simulator, ToolContext]:
    """Build the scenario's simulator and run it to minute `at` (default: the scenario's `at`, else 60)."""
    scenario = scenario_or_default(path)
    sim = scenario.build(path.parent if path else None)
    minute = at if at is not None else (scenario.at or 60)
    if minute < 1:
        fail(f"--at must be at least 1 minute, got {minute}")
    sim.run_until(minute)
    from agent.context import sim_tools

    return scenario, sim, sim_tools(sim)


def bench_report(name: str, figures: dict[str, float], targets: dict[str, str], json_path: Path | None) -> None:
    """A `keel bench` result: the figures as a table (with their targets) and {bench, figures} JSON."""
    from rich.table import Table

    table = Table("figure", "median", "target", title=f"keel bench {name}")
    for k, v in figures.items():
        table.add_row(k, f"{v:.4g}", targets.get(k, ""))
    console.print(table)
    write_json(json_path, {"bench": name, "figures": figures})
