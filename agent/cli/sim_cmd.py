"""`keel sim run|faults`: drive the embedded simulator from the command line."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from agent.cli.common import TOPOLOGY_HELP, chosen_topology, console, fail, print_json, simulate
from tools.backends.sim.faults import FAULT_TYPES
from tools.backends.sim.model import METRIC_NAMES, M

app = typer.Typer(help="Run the simulated cluster.", no_args_is_help=True)


@app.command("run")
def run(
    scenario: Path | None = typer.Option(None, help="scenario file (YAML/JSON); default: diurnal load, no faults"),
    minutes: int = typer.Option(60, min=1, max=60 * 24 * 28, help="minutes to simulate"),
    as_json: bool = typer.Option(False, "--json", help="print every minute's metrics as JSON"),
    topology: str | None = typer.Option(None, "--topology", help=TOPOLOGY_HELP),
) -> None:
    """Simulate MINUTES minutes and print the final state of every service (or the full history as JSON)."""
    sc, sim, _ = simulate(scenario, minutes, chosen_topology(topology))
    hist = sim.history
    if as_json:
        print_json({
            "scenario": sc.name, "topology": sim.topology.name, "minutes": minutes, "load": sim.load.description,
            "faults": [f.__dict__ for f in sim.faults],
            "events": [e.__dict__ for e in sim.events],
            "metrics": {
                s: {m: [round(float(v), 4) for v in hist[:, i, M[m]]] for m in METRIC_NAMES}
                for i, s in enumerate(sim.services)
            },
        })
        return
    table = Table(title=f"minute {minutes - 1} of {sc.name or 'scenario'} on {sim.topology.name} "
                        f"({sim.load.description})")
    for col in ("service", "replicas", "cpu %", "mem MB", "p50 ms", "p99 ms", "errors %", "rps", "queue"):
        table.add_column(col, justify="right" if col != "service" else "left")
    for i, s in enumerate(sim.services):
        r = hist[-1, i]
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


@app.command("serve")
def serve(
    scenario: Path | None = typer.Option(None, help="scenario file (YAML/JSON); default: diurnal load, no faults"),
    port: int = typer.Option(9108, min=0, max=65535, help="port of the Prometheus /metrics endpoint"),
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    log_dir: Path = typer.Option(..., "--log-dir", help="directory for JSON-lines log files (rotated)"),
    speed: float = typer.Option(60.0, min=0.01, help="wall-clock seconds per simulated minute (60 = real time)"),
    minutes: int | None = typer.Option(None, min=1, help="stop after this many simulated minutes (default: run on)"),
    max_log_bytes: int = typer.Option(1_000_000, min=1024, help="rotate the log file past this size"),
    log_backups: int = typer.Option(5, min=1, help="rotated log files to keep"),
    topology: str | None = typer.Option(None, "--topology", help=TOPOLOGY_HELP),
) -> None:
    """Run the simulator live: export its metrics for Prometheus and write its logs to rotated files.

    Gauges are labelled and log lines tagged with the topology's service names.
    """
    import signal
    import threading

    from agent.cli.common import scenario_or_default
    from tools.backends.sim.serve import LiveSim
    from tools.backends.sim.serve import serve as serve_live

    sc = scenario_or_default(scenario, chosen_topology(topology))
    sim = sc.build(scenario.parent if scenario else None)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    def ready(live: LiveSim) -> None:
        console.print(f"serving {sc.name or 'scenario'} on {sc.topo.name} ({len(sc.topo)} services): metrics on "
                      f"http://{host}:{live.port}/metrics, "
                      f"logs in {log_dir}, one simulated minute every {speed:g} s", highlight=False)

    try:
        live = serve_live(sim, port=port, host=host, log_dir=log_dir, speed_s=speed, minutes=minutes,
                          max_log_bytes=max_log_bytes, log_backups=log_backups, stop=stop, on_ready=ready)
    except OSError as e:
        fail(f"cannot serve on {host}:{port}: {e}")
    console.print(f"stopped at simulated minute {live.sim.minute}; {live.lines_written} log lines written")
