"""`keel eval scaling`: GRPO policy vs PPO, Kubernetes HPA (default, tuned) and static allocation on a real trace."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from cli.common import console, fail, write_json
from config.settings import get_settings


def scaling(
    trace: Path | None = typer.Option(None, "--trace", help="per-minute trace (default: NASA July 1995)"),
    column: str | None = typer.Option(None, "--column", help="one function of a one-column-per-function trace"),
    split: str = typer.Option("test", "--split", help="test | all (a trace under 14 days is test data only)"),
    service: str = typer.Option("frontend", "--service", help="the service whose replicas are controlled"),
    json_path: Path | None = typer.Option(None, "--json", help="write {eval, dataset, config, results} here"),
    png: Path | None = typer.Option(None, "--png", help="load/replicas plot (default: next to --json)"),
    seed: int = typer.Option(0, "--seed", help="simulator seed (the same for every method)"),
    policy: Path | None = typer.Option(None, "--policy", help="GRPO policy file (default: the shipped one)"),
    ppo_policy: Path | None = typer.Option(None, "--ppo-policy", help="PPO policy file (default: the shipped one)"),
    train_trace: Path | None = typer.Option(None, "--train-trace",
                                            help="training trace for tuning the HPA when TRACE has no training split"),
    hpa_grid: str | None = typer.Option(None, "--hpa-grid", help="comma-separated CPU targets to tune the HPA over "
                                        "(default 0.30, 0.35, ..., 0.95)"),
) -> None:
    """Run every method on one trace split; print replica-hours, SLO-violation minutes, p99 and actions."""
    from evals import scaling as ev

    if split not in ("test", "all"):
        fail(f"--split: got {split!r}; allowed: test, all")
    service, path = checked_inputs(service, trace)
    grid = ev.HPA_GRID
    if hpa_grid:
        try:
            grid = tuple(float(x) for x in hpa_grid.split(",") if x.strip())
        except ValueError:
            fail(f"--hpa-grid: expected comma-separated numbers, got {hpa_grid!r}")
        if not grid or not all(0.0 < g <= 1.5 for g in grid):
            fail(f"--hpa-grid: targets must be in (0, 1.5], got {hpa_grid!r}")
    spec = ev.EvalSpec(trace=path, grid=grid, column=column, split=split, service=service, seed=seed,
                       policy=policy or ev.DEFAULT_POLICY, ppo_policy=ppo_policy or ev.DEFAULT_PPO,
                       train_trace=train_trace or ev.DEFAULT_TRACE,
                       cache_dir=get_settings().home / "cache" / "scaling")
    try:
        out = ev.evaluate(spec)
    except (ValueError, FileNotFoundError) as e:
        fail(str(e))
    p = out.payload
    cfg = p["config"]
    table = Table("method", "replica-hours", "SLO-violation min", "mean p99 ms", "actions", "mean reward",
                  title=f"keel eval scaling: {p['dataset']}, {service}")
    for m in ev.METHODS:
        r = p["results"][m]
        name = "grpo (keel)" if m == "grpo" else m
        table.add_row(name, f"{r['replica_hours']:.1f}", str(r["slo_violation_min"]), f"{r['p99_ms']:.0f}",
                      str(r["actions"]), f"{r['mean_reward']:.4f}")
    console.print(table)
    tuning = cfg["hpa_tuning"]
    console.print(f"load: {cfg['rescaling']}; SLO p99 {cfg['slo_p99_ms']} ms")
    console.print(f"hpa_tuned: CPU target {cfg['hpa_tuned_target']} by {tuning['criterion']} on {tuning['source']}"
                  + (f" (cached search: {tuning['cached']})" if "cached" in tuning else ""))
    console.print(f"static: {cfg['static_replicas']} replicas ({cfg['static_rule']})")
    for k, ok in out.checks.items():
        console.print(f"  {'[green]met[/]' if ok else '[red]missed[/]'}  {k}")
    write_json(json_path, p)
    png_path = plot_path(png, json_path, f"scaling-{path.stem}-{service}.png")
    ev.plot(out, png_path, f"{p['dataset']} - {service}")
    console.print(f"plot: {png_path}" + (f"; json: {json_path}" if json_path else ""))


def checked_inputs(service: str, trace: Path | None) -> tuple[str, Path]:
    """The canonical service name and the trace path (default: NASA July 1995); exits naming a bad field."""
    from evals import scaling as ev
    from tools.services import resolve_service

    try:
        service = resolve_service(service)
    except ValueError as e:
        fail(f"--service: {e}")
    path = trace or ev.DEFAULT_TRACE
    if not path.exists():
        fail(f"--trace: file not found: {path}")
    return service, path


def plot_path(png: Path | None, json_path: Path | None, default_name: str) -> Path:
    """--png, else next to --json, else under KEEL_HOME/evals."""
    if png:
        return png
    if json_path:
        return json_path.with_suffix(".png")
    return get_settings().home / "evals" / default_name
