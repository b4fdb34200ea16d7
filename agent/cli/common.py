"""Helpers shared by CLI commands: JSON output, exit codes, the topology option, building a simulator context
from a scenario on a topology."""

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
from tools.backends.sim_backend import sim_context
from tools.services import set_topology, use_topology
from tools.topology import Topology, TopologyError, builtin_names, load_topology

console = Console()
err_console = Console(stderr=True)

EXIT_BAD_INPUT = 2
TOPOLOGY_HELP = (f"the system: a built-in topology ({', '.join(builtin_names())}) or a topology file (YAML/JSON); "
                 "default: the scenario's, else online-boutique (KEEL_TOPOLOGY)")


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")


def write_json(path: Path | None, obj: Any) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(obj, indent=2, default=str) + "\n")


def chosen_topology(ref: str | None) -> Topology | None:
    """The topology `--topology` (else KEEL_TOPOLOGY) names, or None; exits naming the bad file or field."""
    if not ref:
        from agent.settings import get_settings

        ref = get_settings().topology
    if not ref or not ref.strip():
        return None
    try:
        return load_topology(ref)
    except TopologyError as e:
        fail(f"--topology: {e}")


def scenario_or_default(path: Path | None, topology: Topology | None = None) -> Scenario:
    """The scenario file (read on `topology` when it names none) or a quiet cluster; it becomes current."""
    try:
        if path is None:
            sc = Scenario(name="quiet" if topology is None else f"quiet {topology.name}", topology=topology)
        elif topology is not None:
            with use_topology(topology):
                sc = load_scenario(path)
        else:
            sc = load_scenario(path)
    except (ValueError, FileNotFoundError) as e:
        fail(str(e))
    if topology is not None and sc.topo != topology:
        fail(f"--topology: {topology.name}, but scenario {sc.name} runs on {sc.topo.name}")
    set_topology(sc.topo)
    return sc


def simulate(path: Path | None, at: int | None,
             topology: Topology | None = None) -> tuple[Scenario, Simulator, ToolContext]:
    """Build the scenario's simulator and run it to minute `at` (default: the scenario's `at`, else 60)."""
    scenario = scenario_or_default(path, topology)
    sim = scenario.build(path.parent if path else None)
    minute = at if at is not None else (scenario.at or 60)
    if minute < 1:
        fail(f"--at must be at least 1 minute, got {minute}")
    sim.run_until(minute)
    return scenario, sim, sim_context(sim)


def bench_report(name: str, figures: dict[str, float], targets: dict[str, str], json_path: Path | None) -> None:
    """A `keel bench` result: the figures as a table (with their targets) and {bench, figures} JSON."""
    from rich.table import Table

    table = Table("figure", "median", "target", title=f"keel bench {name}")
    for k, v in figures.items():
        table.add_row(k, f"{v:.4g}", targets.get(k, ""))
    console.print(table)
    write_json(json_path, {"bench": name, "figures": figures})
