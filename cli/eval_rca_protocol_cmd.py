"""`keel eval rca-protocol`: choose the RCA constants by leave-one-dataset-out and fit the confidence."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer
from rich.progress import Progress
from rich.table import Table

from cli.common import console, fail, write_json
from cli.eval_rca_cmd import DEFAULT_DATA


def _fmt(r: dict[str, float] | None) -> str:
    return "n/a" if r is None else f"{r['ac1']:.3f} / {r['avg5']:.3f}"


def results_by_dataset(result: dict[str, Any]) -> dict[str, dict[str, float]]:
    """{dataset: {"<onset>_<left_out|in_sample>_<ac1|avg5>": value}} from `rca_protocol.lodo`'s output."""
    out: dict[str, dict[str, float]] = {}
    for d, info in result["datasets"].items():
        out[d] = {f"{m}_{k}_{key}": r[key] for m, by in info["modes"].items() for k in ("left_out", "in_sample")
                  if (r := by[k]) is not None for key in ("ac1", "avg5")}
    return out


def rca_protocol(
    sockshop: Path = typer.Option(DEFAULT_DATA / "sockshop", "--sockshop", help="Sock Shop directory"),
    nezha: Path = typer.Option(DEFAULT_DATA / "nezha-ob", "--nezha", help="Nezha Online Boutique directory"),
    seed: int = typer.Option(0, "--seed", min=0, help="synthetic benchmark seed"),
    cases: int = typer.Option(300, "--cases", min=10, max=100_000, help="synthetic cases"),
    write: bool = typer.Option(False, "--write", help="write the choice and the calibration to causal/shipped.json"),
    json_path: Path | None = typer.Option(None, "--json", help="write the grid, the choices and the figures here"),
) -> None:
    """Score a grid of ranking configurations on synthetic, Sock Shop and Nezha-OB (labelled and detected
    onsets); per dataset, print the figure of the configuration chosen without it (left out) beside the
    shipped one's (in sample); fit the confidence on the synthetic cases and print its calibration per dataset.
    """
    from causal import config as shipped_config
    from causal.aggregate import MethodConfig
    from causal.confidence import calibrated
    from causal.loaders import load
    from evals import calibration, rca_protocol
    from evals.rca_synthetic.cases import generate

    for flag, p in (("--sockshop", sockshop), ("--nezha", nezha)):
        if not p.is_dir():
            fail(f"{flag}: {p} is not a directory")
    datasets = {"synthetic": generate(seed, cases), "sockshop": load("sockshop", sockshop),
                "nezha-ob": load("nezha", nezha)}
    configs = rca_protocol.grid()
    total = sum(len(c) for c in datasets.values()) * len(rca_protocol.MODES)
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("preparing cases", total=total)
        runs = rca_protocol.prepare_runs(datasets, progress=lambda _: bar.advance(task))
        task2 = bar.add_task(f"scoring {len(configs)} configurations", total=len(configs))
        table = rca_protocol.evaluate(runs, configs, progress=lambda _: bar.advance(task2))
    names = list(datasets)
    result = rca_protocol.lodo(table, configs, names, rca_protocol.MODES)
    left_out = {d: asdict(configs[rca_protocol.choose(table, len(configs), [x for x in names if x != d],
                                                      rca_protocol.MODES)]) for d in names}
    shipped = MethodConfig(**{**result["shipped"], "scores": tuple(result["shipped"]["scores"])})

    out = Table("dataset", "onset", "left out AC@1 / Avg@5", "in sample AC@1 / Avg@5", "best on itself",
                title=f"leave-one-dataset-out over {len(configs)} configurations")
    for d, info in result["datasets"].items():
        for m, r in info["modes"].items():
            out.add_row(d, m, _fmt(r["left_out"]), _fmt(r["in_sample"]), _fmt(r["best_possible"]))
    console.print(out)
    console.print(f"shipped: {result['shipped_label']}")
    for d, info in result["datasets"].items():
        console.print(f"chosen without {d}: {info['chosen_without']}")

    # confidence: fitted on the synthetic cases (shipped configuration), checked on every dataset
    feats: dict[str, list[tuple[dict[str, float], bool]]] = {d: [] for d in names}
    for r in runs:
        if r.prepared.case.meta.get("code_level"):
            continue
        ranking, f = rca_protocol.order(r.prepared, shipped)
        feats[r.dataset].append((f, bool(ranking) and ranking[0] == r.truth))
    coef = calibration.fit_calibration([f for f, _ in feats["synthetic"]], [y for _, y in feats["synthetic"]])
    tables: dict[str, Any] = {}
    for d in names:
        conf = [calibrated(f, coef) for f, _ in feats[d]]
        rows = calibration.calibration_table(conf, [y for _, y in feats[d]])
        tables[d] = {"rows": rows, "ece": calibration.expected_calibration_error(rows)}
        t = Table("confidence", "n", "predicted", "observed top-1",
                  title=f"calibration on {d} (fitted on synthetic){'' if d == 'synthetic' else ': checked'}, "
                        f"ECE {tables[d]['ece']:.3f}")
        for row in rows:
            t.add_row(f"{row['lo']:.1f}-{row['hi']:.1f}", str(row["n"]), f"{row['predicted']:.2f}",
                      f"{row['observed']:.2f}")
        console.print(t)

    payload = {
        "eval": "rca-protocol",
        "dataset": "+".join(names),
        "config": {"seed": seed, "synthetic_cases": cases, "modes": list(rca_protocol.MODES),
                   "configurations": len(configs), "objective": "mean over datasets and onsets of (AC@1+Avg@5)/2"},
        "results": results_by_dataset(result),
        "choice": result,
        "calibration": {"coefficients": coef, "tables": tables},
    }
    write_json(json_path, payload)
    if write:
        shipped_config.FILE.write_text(json.dumps({
            "chosen_by": f"keel eval rca-protocol --seed {seed} --cases {cases} --write",
            "shipped": result["shipped"], "left_out": left_out, "calibration": coef,
        }, indent=2) + "\n")
        console.print(f"wrote {shipped_config.FILE}")
