"""`keel eval scaling-floor`: the safety floor's quantile chosen on the training run's validation set (and the
floor's ablation); `--apply` writes the chosen quantile into the policy's metadata."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from cli.common import console, fail, write_json


def scaling_floor(
    policy: Path | None = typer.Option(None, "--policy", help="GRPO policy file (default: the shipped one)"),
    taus: str = typer.Option("0.5,0.6,0.7,0.8,0.9", "--taus",
                             help="comma-separated floor quantiles to compare, each in (0, 1)"),
    trace_dir: Path | None = typer.Option(None, "--trace-dir",
                                          help="where the policy's training traces are (default: the shared traces)"),
    json_path: Path | None = typer.Option(None, "--json", help="write {eval, dataset, config, results} here"),
    apply: bool = typer.Option(False, "--apply", help="write the chosen quantile into the policy file's metadata"),
) -> None:
    """Run the policy behind each floor quantile (and with none) on the validation days its training run selected
    checkpoints on, beside the tuned HPA; pick the quantile no worse than the tuned HPA on the most validation
    families (ties: fewest replica-hours). Never reads a test week, the Azure day or a held-out family."""
    from evals import scaling as ev
    from evals import scaling_floor as sf

    try:
        grid = tuple(float(x) for x in taus.split(",") if x.strip())
    except ValueError:
        fail(f"--taus: expected comma-separated numbers, got {taus!r}")
    if not grid or not all(0.0 < t < 1.0 for t in grid):
        fail(f"--taus: every quantile must be in (0, 1), got {taus!r}")
    path = policy or ev.DEFAULT_POLICY
    if not path.exists():
        fail(f"--policy: file not found: {path}")
    try:
        p = sf.sweep(path, trace_dir or ev.TRACES, grid, progress=lambda m: console.print(f"[dim]{m}[/]"))
    except (ValueError, FileNotFoundError) as e:
        fail(str(e))
    ref = p["families"]["hpa_tuned"]
    fams = list(ref)
    table = Table("floor tau", *fams, "total", "families no worse",
                  title=f"keel eval scaling-floor: {p['dataset']} (replica-hours / SLO-violation min)")
    chosen = f"grpo_floor_{p['chosen_tau']:g}"
    for name, r in p["results"].items():
        f = p["families"][name]
        if name == "hpa_tuned":
            label, wins = f"tuned HPA (target {p['config']['hpa_tuned_target']})", "-"
        else:
            tau = name.removeprefix("grpo_floor_")
            label = ("* " if name == chosen else "") + tau + (" (no floor)" if tau == sf.NO_FLOOR else "")
            wins = f"{r['families_no_worse']} of {len(fams)}"
        cells = [_cell(f[fam], None if name == "hpa_tuned" else ref[fam]) for fam in fams]
        table.add_row(label, *cells, f"{r['replica_hours']:.1f} / {r['slo_violation_min']:.0f}", wins)
    console.print(table)
    console.print(f"chosen: {p['reason']}")
    write_json(json_path, p)
    if apply:
        entry = sf.apply_tau(path, p)
        console.print(f"wrote floor tau {entry['tau']:g} (trained with {entry['trained_tau']}) into {path}")


def _cell(f: dict[str, float], ref: dict[str, float] | None) -> str:
    """'replica-hours / violation min', green when no worse than the reference on both."""
    ok = ref is not None and f["replica_hours"] <= ref["replica_hours"] and \
        f["slo_violation_min"] <= ref["slo_violation_min"]
    return ("[green]" if ok else "") + f"{f['replica_hours']:.1f} / {f['slo_violation_min']:.0f}"
