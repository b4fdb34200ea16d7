"""`keel eval scaling`: GRPO policy vs PPO, Kubernetes HPA (default, tuned), static allocation and forecast sizing,
on a real trace or a member of a synthetic traffic family."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from cli.common import console, fail, write_json
from config.settings import get_settings


def scaling(
    trace: Path | None = typer.Option(None, "--trace", help="per-minute trace (default: NASA July 1995)"),
    family: str | None = typer.Option(None, "--family", help="a synthetic traffic family instead of a trace: "
                                      "double_peak, step_shifts, mmpp_bursts (held out from training) or a "
                                      "training family (diurnal, weekly, ramps, flash_crowds, on_off, heavy_tail)"),
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
    """Run every method on one trace split (or family member); print replica-hours, violation minutes, p99, actions.

    grpo is the shipped policy behind its safety floor; grpo_nofloor the same policy without it (ablation);
    forecast the floor alone (sized to the short-term forecast). The PNG draws the next-hour forecast band.
    """
    from evals import scaling as ev
    from finetune.policy.families import FAMILIES

    if split not in ("test", "all"):
        fail(f"--split: got {split!r}; allowed: test, all")
    if family is not None and family not in FAMILIES:
        fail(f"--family: got {family!r}; allowed: {', '.join(FAMILIES)}")
    if family is not None and trace is not None:
        fail("--family and --trace: give one of them")
    if family is not None:
        service, path = checked_inputs(service, None, need_trace=False)
    else:
        service, path = checked_inputs(service, trace)
    grid = ev.HPA_GRID
    if hpa_grid:
        try:
            grid = tuple(float(x) for x in hpa_grid.split(",") if x.strip())
        except ValueError:
            fail(f"--hpa-grid: expected comma-separated numbers, got {hpa_grid!r}")
        if not grid or not all(0.0 < g <= 1.5 for g in grid):
            fail(f"--hpa-grid: targets must be in (0, 1.5], got {hpa_grid!r}")
    spec = ev.EvalSpec(trace=None if family else path, family=family, grid=grid, column=column, split=split,
                       service=service, seed=seed,
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
        name = {"grpo": "grpo (keel)", "forecast": "forecast (reference)"}.get(m, m)
        table.add_row(name, f"{r['replica_hours']:.1f}", str(r["slo_violation_min"]), f"{r['p99_ms']:.0f}",
                      str(r["actions"]), f"{r['mean_reward']:.4f}")
    console.print(table)
    tuning = cfg["hpa_tuning"]
    console.print(f"load: {cfg['rescaling']}; SLO p99 {cfg['slo_p99_ms']} ms")
    console.print(f"hpa_tuned: CPU target {cfg['hpa_tuned_target']} by {tuning['criterion']} on {tuning['source']}"
                  + (f" (cached search: {tuning['cached']})" if "cached" in tuning else ""))
    console.print(f"static: {cfg['static_replicas']} replicas ({cfg['static_rule']})")
    console.print(f"safety floor: {cfg['safety_floor']}")
    nh = cfg.get("next_hour_forecast")
    if nh:
        console.print(f"next-hour forecast: {nh['hours']} hourly forecasts, actual peak under p90 in "
                      f"{nh['p90_coverage']:.0%}, median |log error| of p50 {nh['median_abs_log_error_p50']}")
    for k, ok in out.checks.items():
        console.print(f"  {'[green]met[/]' if ok else '[red]missed[/]'}  {k}")
    write_json(json_path, p)
    png_path = plot_path(png, json_path, f"scaling-{family or path.stem}-{service}.png")
    ev.plot(out, png_path, f"{p['dataset']} - {service}")
    console.print(f"plot: {png_path}" + (f"; json: {json_path}" if json_path else ""))


def checked_inputs(service: str, trace: Path | None, need_trace: bool = True) -> tuple[str, Path]:
    """The canonical service name and the trace path (default: NASA July 1995); exits naming a bad field."""
    from evals import scaling as ev
    from tools.services import resolve_service

    try:
        service = resolve_service(service)
    except ValueError as e:
        fail(f"--service: {e}")
    path = trace or ev.DEFAULT_TRACE
    if need_trace and not path.exists():
        fail(f"--trace: file not found: {path}")
    return service, path


def plot_path(png: Path | None, json_path: Path | None, default_name: str) -> Path:
    """--png, else next to --json, else under KEEL_HOME/evals."""
    if png:
        return png
    if json_path:
        return json_path.with_suffix(".png")
    return get_settings().home / "evals" / default_name
