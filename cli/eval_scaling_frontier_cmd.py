"""`keel eval scaling-frontier`: how cheap a controller sized to a past-only load forecast gets, against the targets."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from cli.common import console, fail, write_json
from cli.eval_scaling_cmd import checked_inputs, plot_path
from config.settings import get_settings


def scaling_frontier(
    trace: Path | None = typer.Option(None, "--trace", help="per-minute trace with a training split "
                                      "(at least 14 days; default: NASA July 1995)"),
    column: str | None = typer.Option(None, "--column", help="one function of a one-column-per-function trace"),
    service: str = typer.Option("frontend", "--service", help="the service whose replicas are controlled"),
    json_path: Path | None = typer.Option(None, "--json", help="write {eval, dataset, config, results} here"),
    png: Path | None = typer.Option(None, "--png", help="replica-hours vs violations plot (default: next to --json)"),
    seed: int = typer.Option(0, "--seed", help="simulator and forecaster seed"),
    with_policies: bool = typer.Option(True, "--with-policies/--no-policies",
                                       help="also run the shipped GRPO/PPO policies and the default HPA"),
) -> None:
    """Sweep a forecast-sized controller over the test split and show it beside the tuned HPA and the target box.

    The forecaster is fit on the training split and reads only the past; see evals/scaling_frontier.py.
    """
    from evals import scaling as ev
    from evals.scaling_frontier import frontier, plot_frontier

    service, path = checked_inputs(service, trace)
    spec = ev.EvalSpec(trace=path, column=column, service=service, seed=seed,
                       cache_dir=get_settings().home / "cache" / "scaling")
    try:
        policies = ev.evaluate(spec).payload["results"] if with_policies else None
        p = frontier(spec, policies)
    except (ValueError, FileNotFoundError) as e:
        fail(str(e))
    res, summary = p["results"], p["summary"]
    box = summary["target_box"]
    table = Table("controller", "replica-hours", "SLO-violation min", "vs tuned HPA replica-hours",
                  title=f"keel eval scaling-frontier: {p['dataset']}, {service}")
    rows = [(k if k in ("hpa_tuned", "grpo", "ppo", "hpa") else f"forecast {k}", v) for k, v in res.items()]
    for name, r in rows:
        inside = (r["replica_hours"] <= box["replica_hours_max"]
                  and r["slo_violation_min"] <= box["slo_violation_min_max"])
        table.add_row(("[green]" if inside else "") + name, f"{r['replica_hours']:.1f}", str(r["slo_violation_min"]),
                      f"{r['replica_hours_vs_hpa_tuned_pct']:+.1f} %")
    console.print(table)
    console.print(f"target box: <= {box['slo_violation_min_max']} violation minutes and <= "
                  f"{box['replica_hours_max']:.1f} replica-hours; forecast points inside: {summary['points_in_box']}")
    best = summary["cheapest_within_violations"]
    if best:
        console.print(f"cheapest forecast point within the tuned HPA's violations: {best['controller']}, "
                      f"{best['replica_hours']:.1f} replica-hours ({summary['cheapest_vs_hpa_tuned_pct']:+.2f} %)")
    write_json(json_path, p)
    png_path = plot_path(png, json_path, f"scaling-frontier-{path.stem}-{service}.png")
    plot_frontier(p, png_path)
    console.print(f"plot: {png_path}" + (f"; json: {json_path}" if json_path else ""))
