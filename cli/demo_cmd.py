"""`keel demo`: a scripted incident on the simulator, investigated tool by tool, printed with rich."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.panel import Panel
from rich.table import Table

import evals
from cli.common import TOPOLOGY_HELP, chosen_topology, console, fail, simulate
from tools.backends.base import ToolContext
from tools.registry import call_tool
from tools.results import LogMatches, MetricSeries, Neighbours, ResultData
from tools.services import resolve_service

R = TypeVar("R", bound=ResultData)

SCENARIOS = Path(evals.__file__).parent / "scenarios"
DEMO = SCENARIOS / "demo-payment-latency.yaml"


def demo_scenario(topology_name: str) -> Path:
    """The shipped demo incident of a built-in topology (Online Boutique: the payment latency one)."""
    if topology_name == "online-boutique":
        return DEMO
    path = SCENARIOS / f"demo-{topology_name}.yaml"
    if not path.is_file():
        fail(f"no demo scenario for topology {topology_name}; give one with --scenario")
    return path


def _metric_table(title: str, rows: list[tuple[str, MetricSeries]]) -> Table:
    table = Table("service", "metric", "start", "mean", "max", "current", "unit", title=title)
    for svc, d in rows:
        table.add_row(svc, str(d.metric), str(d.start), str(d.mean), str(d.max), str(d.current), str(d.unit))
    return table


def _read(tool: str, args: dict[str, Any], ctx: ToolContext, kind: type[R]) -> R:
    """A read tool's typed result; exits with the tool's error when it has none."""
    result = call_tool(tool, args, ctx)
    view = result.view(tool)
    if result.status != "ok" or not isinstance(view, kind):
        fail(f"{tool} {args}: {result.status}: {result.error}")
    return view


def demo(
    scenario: Path | None = typer.Option(None, help="incident scenario to investigate (default: the topology's "
                                                   "demo incident; Online Boutique: payment latency)"),
    at: int | None = typer.Option(None, help="minute at which the operator asks (default: the scenario's)"),
    topology: str | None = typer.Option(None, "--topology", help=TOPOLOGY_HELP),
) -> None:
    """Inject a fault, then investigate it step by step with the tools and print what each returned.

    The symptom is the scenario's `expect.symptom` (else the topology's entry service).
    """
    topo = chosen_topology(topology)
    path = scenario or demo_scenario(topo.name if topo is not None else "online-boutique")
    sc, sim, ctx = simulate(path, at, topo)
    console.print(Panel(f"[bold]{sc.request or 'something is wrong'}[/]\nscenario {sc.name} on {sim.topology.name}, "
                        f"minute {sim.minute}, load {sim.load.description}", title="incident"))
    try:
        symptom = resolve_service(str(sc.expect.get("symptom", sim.topology.entry)), sim.topology)
    except ValueError as e:
        fail(f"{path}: expect.symptom: {e}")
    window = {"metric": "latency_p99", "window": "30m"}
    symptom_series = _read("query_metrics", {"service": symptom, **window}, ctx, MetricSeries)
    console.print(_metric_table("1. the symptom", [(symptom, symptom_series)]))
    neighbours = _read("get_topology", {"service": symptom}, ctx, Neighbours)
    console.print(f"2. {symptom} calls: {', '.join(neighbours.callees)}")
    rows = [(callee, _read("query_metrics", {"service": callee, **window}, ctx, MetricSeries))
            for callee in neighbours.callees]
    if not rows:  # a leaf: the symptom is its own suspect
        rows.append((symptom, symptom_series))
    console.print(_metric_table("3. its dependencies", rows))
    worst, series = max(rows, key=lambda kv: float(kv[1].current or 0) / max(float(kv[1].start or 0), 1e-6))
    logs = call_tool("search_logs", {"service": worst, "level": "warn", "window": "15m", "limit": 5}, ctx)
    table = Table("time", "service", "level", "message", title=f"4. warnings from {worst}")
    found = logs.view("search_logs")
    for line in found.lines if isinstance(found, LogMatches) else []:
        table.add_row(line.ts, line.service, line.level, line.message)
    console.print(table)
    rca = call_tool("root_cause_analysis", {"service": symptom}, ctx)
    console.print(f"5. root_cause_analysis: status {rca.status}" + (f" ({rca.error})" if rca.error else ""))
    console.print(Panel(f"{worst}'s p99 rose the most relative to its own start of window "
                        f"({series.start} -> {series.current} ms); it is the likely cause.", title="finding"))
