"""`keel demo`: a scripted incident on the simulator, investigated tool by tool, printed with rich."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.panel import Panel
from rich.table import Table

import evals
from agent.cli.common import TOPOLOGY_HELP, chosen_topology, console, fail, simulate
from tools.registry import call_tool
from tools.services import resolve_service

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


def _metric_table(title: str, rows: list[tuple[str, dict]]) -> Table:
    table = Table("service", "metric", "start", "mean", "max", "current", "unit", title=title)
    for svc, d in rows:
        table.add_row(svc, d["metric"], str(d["start"]), str(d["mean"]), str(d["max"]), str(d["current"]), d["unit"])
    return table


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
    r = call_tool("query_metrics", {"service": symptom, "metric": "latency_p99", "window": "30m"}, ctx)
    console.print(_metric_table("1. the symptom", [(symptom, r.data)]))
    topo = call_tool("get_topology", {"service": symptom}, ctx).data
    console.print(f"2. {symptom} calls: {', '.join(topo['callees'])}")
    rows = []
    for callee in topo["callees"]:
        res = call_tool("query_metrics", {"service": callee, "metric": "latency_p99", "window": "30m"}, ctx)
        rows.append((callee, res.data))
    if not rows:  # a leaf: the symptom is its own suspect
        rows.append((symptom, r.data))
    console.print(_metric_table("3. its dependencies", rows))
    worst = max(rows, key=lambda kv: kv[1]["current"] / max(kv[1]["start"], 1e-6))[0]
    logs = call_tool("search_logs", {"service": worst, "level": "warn", "window": "15m", "limit": 5}, ctx)
    table = Table("time", "service", "level", "message", title=f"4. warnings from {worst}")
    for line in (logs.data or {}).get("lines", []):
        table.add_row(line["ts"], line["service"], line["level"], line["message"])
    console.print(table)
    rca = call_tool("root_cause_analysis", {"service": symptom}, ctx)
    console.print(f"5. root_cause_analysis: status {rca.status}" + (f" ({rca.error})" if rca.error else ""))
    console.print(Panel(f"{worst}'s p99 rose the most relative to its own start of window "
                        f"({rows[[s for s, _ in rows].index(worst)][1]['start']} -> "
                        f"{rows[[s for s, _ in rows].index(worst)][1]['current']} ms); it is the likely cause.",
                        title="finding"))
