"""`keel eval scaling-rollout`: gradual rollout of the shipped policy and of a deliberately bad one beside the HPA."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from cli.common import console, fail, write_json
from cli.eval_scaling_cmd import checked_inputs, plot_path
from config.settings import get_settings


def scaling_rollout(
    family: str = typer.Option("double_peak", "--family", help="synthetic traffic family the rollout runs on"),
    trace: Path | None = typer.Option(None, "--trace", help="a trace instead of a family (its test split)"),
    service: str = typer.Option("frontend", "--service", help="the service whose replicas are controlled"),
    json_path: Path | None = typer.Option(None, "--json", help="write {eval, dataset, config, results} here"),
    png: Path | None = typer.Option(None, "--png", help="share-over-time plot (default: next to --json)"),
    audit: Path | None = typer.Option(None, "--audit", help="audit log the proposals go to "
                                      "(default: a new file under KEEL_HOME/evals)"),
    seed: int = typer.Option(0, "--seed", help="simulator seed"),
    policy: Path | None = typer.Option(None, "--policy", help="policy file (default: the shipped one)"),
    window: int = typer.Option(12, "--window", min=1, help="scored shadow decisions before the share may rise"),
) -> None:
    """The policy runs in shadow beside the tuned HPA; its share of proposed decisions rises while its shadow
    record (scored on simulator clones over the next 30 minutes) is no worse on violations and cheaper, and is
    cut at once when it is worse. Shown for the shipped policy and for one that always scales down."""
    import time

    from evals import scaling as ev
    from evals import scaling_rollout as sr
    from finetune.policy.families import FAMILIES
    from finetune.policy.gradual import RolloutConfig

    if trace is None and family not in FAMILIES:
        fail(f"--family: got {family!r}; allowed: {', '.join(FAMILIES)}")
    service, path = checked_inputs(service, trace, need_trace=trace is not None)
    spec = ev.EvalSpec(trace=path if trace else None, family=None if trace else family, service=service, seed=seed,
                       policy=policy or ev.DEFAULT_POLICY, cache_dir=get_settings().home / "cache" / "scaling")
    audit_path = audit or get_settings().home / "evals" / f"rollout-audit-{int(time.time())}.db"
    try:
        p = sr.evaluate(spec, audit_path, RolloutConfig(window=window, seed=seed))
    except (ValueError, FileNotFoundError) as e:
        fail(str(e))
    table = Table("run", "replica-hours", "SLO-violation min", "final share", "max share", "share changes",
                  "policy / hpa decisions", title=f"keel eval scaling-rollout: {p['dataset']}, {service}")
    for name, r in p["results"].items():
        if name == "hpa_tuned":
            table.add_row(name, f"{r['replica_hours']:.1f}", str(r["slo_violation_min"]), "-", "-", "-", "-")
            continue
        table.add_row(name, f"{r['replica_hours']:.1f}", str(r["slo_violation_min"]), f"{r['final_share']:g}",
                      f"{r['max_share']:g}", str(r["share_changes"]), f"{r['policy_decisions']} / {r['hpa_decisions']}")
    console.print(table)
    a = p["config"]["audit"]
    console.print(f"audit: {a['records']} proposals naming their controller in {a['path']} "
                  f"(chain {'verified' if a['verified'] else 'BROKEN'})")
    write_json(json_path, p)
    png_path = plot_path(png, json_path, f"scaling-rollout-{family if trace is None else path.stem}-{service}.png")
    sr.plot(p, png_path)
    console.print(f"plot: {png_path}" + (f"; json: {json_path}" if json_path else ""))
