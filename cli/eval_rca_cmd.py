"""`keel eval rca`: the RCA method against random, NSigma, BARO and PC-PageRank on labelled cases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.progress import Progress
from rich.table import Table

from cli.common import console, fail, write_json
from config.settings import get_settings

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "rca"
DATASETS = ("sockshop", "nezha", "generic", "synthetic")


def _fmt(v: float) -> str:
    return "n/a" if v != v else f"{v:.3f}"


def load_cases(dataset: str, path: Path | None, seed: int, cases: int) -> tuple[list[Any], str, str]:
    """(cases, dataset name used in reports and for the left-out configuration, path or generator label)."""
    if dataset == "synthetic":
        from evals.rca_synthetic.cases import generate

        return generate(seed, cases), "synthetic", f"simulator seed {seed}, {cases} cases"
    from causal.loaders import load

    if path is None:
        if dataset != "sockshop":
            fail(f"--path: required for --dataset {dataset}")
        path = DEFAULT_DATA / "sockshop"
    if not path.is_dir():
        fail(f"--path: {path} is not a directory")
    try:
        loaded = load(dataset, path)
    except ValueError as e:  # CaseError included: it names the file and the field
        fail(str(e))
    name = path.name if dataset in ("generic", "nezha") else dataset
    return loaded, name, str(path)


def print_results(data: dict[str, Any], chosen: list[str], title: str) -> None:
    table = Table("group", "n", "method", "AC@1", "AC@3", "Avg@5", "median s/case", "n/a", title=title)
    for group, by_method in data["by_group"].items():
        for i, m in enumerate(chosen):
            r = by_method[m]
            table.add_row(group if i == 0 else "", str(r["n"] + r["na"]) if i == 0 else "", m,
                          _fmt(r["ac1"]), _fmt(r["ac3"]), _fmt(r["avg5"]), _fmt(r["median_s"]),
                          str(r["na"]) if r["na"] else "", end_section=i == len(chosen) - 1)
    console.print(table)
    for m, info in data["config"]["not_applicable"].items():
        console.print(f"n/a: {m} on {info['cases']} case(s): {info['reason']}")
    if data["calibration"]:
        cal = Table("confidence", "n", "predicted", "observed top-1", title="keel confidence calibration")
        for row in data["calibration"]:
            cal.add_row(f"{row['lo']:.1f}-{row['hi']:.1f}", str(row["n"]), f"{row['predicted']:.2f}",
                        f"{row['observed']:.2f}")
        console.print(cal)


def rca(
    dataset: str = typer.Option("sockshop", "--dataset", help="sockshop | nezha | generic | synthetic"),
    path: Path | None = typer.Option(None, "--path", help="dataset directory (default: ../shared/data/rca/sockshop); "
                                     "generic: DIR/<case>/metrics.csv, label.json, optional graph.csv"),
    onset: str = typer.Option("exact", "--onset", help="exact | late60 | detect"),
    methods: str = typer.Option("", "--methods", help="comma-separated subset of keel, keel_left_out, keel_no_pc, "
                                "keel_no_graph, keel_scores_only, keel_with_pc, random, nsigma, baro, pc_pagerank "
                                "(default: all but keel_with_pc; keel_left_out only on a development dataset)"),
    seed: int = typer.Option(0, "--seed", min=0, help="synthetic: the generator's seed"),
    cases: int = typer.Option(300, "--cases", min=1, max=100_000, help="synthetic: how many cases to generate"),
    json_path: Path | None = typer.Option(None, "--json", help="write {eval, dataset, config, results} here"),
    png: Path | None = typer.Option(None, "--png", help="bar chart (default: next to --json, else under KEEL_HOME)"),
) -> None:
    """Rank root causes on every case; print AC@1, AC@3, Avg@5 per fault type and overall, runtime per case,
    and the calibration of keel's confidence.

    `keel` is the shipped configuration; `keel_left_out` (on synthetic, sockshop, nezha-ob) the one chosen
    without that dataset by `keel eval rca-protocol`, i.e. the estimate of how keel does on data it was not
    tuned on.
    """
    from causal.config import LEFT_OUT
    from evals import rca as ev

    if dataset not in DATASETS:
        fail(f"--dataset: got {dataset!r}; allowed: {', '.join(DATASETS)}")
    if onset not in ev.ONSET_MODES:
        fail(f"--onset: got {onset!r}; allowed: {', '.join(ev.ONSET_MODES)}")
    asked = [m.strip() for m in methods.split(",") if m.strip()]
    unknown = [m for m in asked if m not in ev.ALL_METHODS]
    if unknown:  # checked before any data is read
        fail(f"--methods: unknown {unknown}; allowed: {', '.join(ev.ALL_METHODS)}")
    loaded, name, where = load_cases(dataset, path, seed, cases)
    default = ["keel", *(["keel_left_out"] if name in LEFT_OUT else []), *ev.ABLATIONS, *ev.METHODS[1:]]
    chosen = asked or default
    if "keel_left_out" in chosen and name not in LEFT_OUT:
        fail(f"--methods: keel_left_out exists only for the development datasets {sorted(LEFT_OUT)}; "
             f"{name!r} was never used to choose anything, so `keel` is already a left-out figure there")
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(f"{name} ({onset})", total=len(loaded))
        try:
            results = ev.run(loaded, onset, chosen, progress=lambda _: bar.advance(task), dataset=name)
        except ValueError as e:
            fail(str(e))
    extra: dict[str, Any] = {"loader": dataset}
    if dataset == "synthetic":
        from evals.rca_synthetic.cases import DEPTHS, SIZES

        specs = [c.meta["spec"] for c in loaded]
        extra.update({"seed": seed, "topologies": f"layered, {SIZES[0]}-{SIZES[1]} services, {DEPTHS[0]}-{DEPTHS[1]} "
                      f"layers (drawn: {min(s['size'] for s in specs)}-{max(s['size'] for s in specs)} services)"})
    data = ev.payload(name, where, onset, results, chosen, extra)
    print_results(data, chosen, f"keel eval rca: {name}, onset {onset}")
    cfg = data["config"]
    if cfg.get("onset_error_s_median") is not None:
        console.print(f"|onset used - labelled onset|: median {cfg['onset_error_s_median']:.1f} s, "
                      f"p90 {cfg['onset_error_s_p90']:.1f} s, within 60 s in {cfg['onset_within_60s']:.0%} of cases")
    write_json(json_path, data)
    png_path = png or (json_path.with_suffix(".png") if json_path else
                       get_settings().home / "evals" / f"rca-{name}-{onset}.png")
    ev.plot(data, png_path, f"RCA on {name} (onset {onset})")
    console.print(f"plot: {png_path}" + (f"; json: {json_path}" if json_path else ""))
