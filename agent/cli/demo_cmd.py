"""`keel demo`: a scripted incident on the simulator, investigated tool by tool, printed with rich."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.panel import Panel
from rich.table import Table

import evals
from agent.cli.common import console, simulate
from tools.registry import call_tool

DEMO = Path(evals.__file__).parent / "scenarios" / "demo-payment-latency.yaml"


def _metric_table(title: str, rows: list[tuple[str, dict]]) -> Table:
    table = Table("service", "metric", "start", "mean", "max", "current", "unit", title=title)
    for svc, d in rows:
        table.add_row(svc, d["metric"], str(d["start"]), str(d["mean"]), str(d["max"]), str(d["current"]), d["unit"])
    return table


def demo(
    scenario: Path = typer.Option(DEMO, help="incident scenario to investigate"),
    at: int | None = typer.Option(None, help="minute at which the operator asks (default: the scenario's)"),
) -> None:
    """Inject a fault, then investigate it step by step with the tools and print what each returned."""
    sc, sim, ctx = simulate(scenario, at)
    console.print(Panel(f"[bold]{sc.request or 'something is wrong'}[/]\nscenario {sc.name}, minute {sim.minute}, "
                        f"load {sim.load.description}", title="incident"))
    symptom = "checkoutservice"
    r = call_tool("query_metrics", {"service": symptom, "metric": "latency_p99", "window": "30m"}, ctx)
    console.print(_metric_table("1. the symptom", [(symptom, r.data)]))
    topo = call_tool("get_topology", {"service": symptom}, ctx).data
    console.print(f"2. {symptom} calls: {', '.join(topo['callees'])}")
    rows = []
    for callee in topo["callees"]:
        res = call_tool("query_metrics", {"service": callee, "metric": "latency_p99", "window": "30m"}, ctx)
        rows.append((callee, res.data))
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
