"""`keel eval rca`: the causal RCA method against random, NSigma, BARO and PC-PageRank on labelled cases."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import Progress
from rich.table import Table

from cli.common import console, fail, write_json
from config.settings import get_settings

DEFAULT_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "rca"


def _fmt(v: float) -> str:
    return "n/a" if v != v else f"{v:.3f}"


def rca(
    dataset: str = typer.Option("sockshop", "--dataset", help="sockshop | nezha | generic"),
    path: Path | None = typer.Option(None, "--path", help="dataset directory (default: ../shared/data/rca/sockshop)"),
    onset: str = typer.Option("exact", "--onset", help="exact | late60 | detect"),
    methods: str = typer.Option("", "--methods", help="comma-separated subset of keel,random,nsigma,baro,pc_pagerank "
                                "(default: all five); ablations: keel_no_pc, keel_no_graph, keel_scores_only"),
    json_path: Path | None = typer.Option(None, "--json", help="write {eval, dataset, config, results} here"),
    png: Path | None = typer.Option(None, "--png", help="bar chart (default: next to --json, else under KEEL_HOME)"),
) -> None:
    """Rank root causes on every case; print AC@1, AC@3, Avg@5 per fault type and overall, and runtime per case."""
    from causal.loaders import DATASETS, load
    from evals import rca as ev

    if dataset not in DATASETS:
        fail(f"--dataset: got {dataset!r}; allowed: {', '.join(DATASETS)}")
    if onset not in ev.ONSET_MODES:
        fail(f"--onset: got {onset!r}; allowed: {', '.join(ev.ONSET_MODES)}")
    chosen = [m.strip() for m in methods.split(",") if m.strip()] or list(ev.METHODS)
    unknown = [m for m in chosen if m not in ev.ALL_METHODS]
    if unknown:
        fail(f"--methods: unknown {unknown}; allowed: {', '.join(ev.ALL_METHODS)}")
    if path is None:
        if dataset != "sockshop":
            fail(f"--path: required for --dataset {dataset}")
        path = DEFAULT_DATA / "sockshop"
    if not path.is_dir():
        fail(f"--path: {path} is not a directory")
    try:
        cases = load(dataset, path)
    except ValueError as e:
        fail(str(e))
    name = path.name if dataset == "generic" or dataset == "nezha" else dataset
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(f"{name} ({onset})", total=len(cases))
        try:
            results = ev.run(cases, onset, chosen, progress=lambda _: bar.advance(task))
        except ValueError as e:
            fail(str(e))
    data = ev.payload(name, str(path), onset, results, chosen, {"loader": dataset})
    table = Table("group", "n", "method", "AC@1", "AC@3", "Avg@5", "median s/case",
                  title=f"keel eval rca: {name}, onset {onset}")
    for group, by_method in data["by_group"].items():
        for i, m in enumerate(chosen):
            r = by_method[m]
            table.add_row(group if i == 0 else "", str(r["n"]) if i == 0 else "", m,
                          _fmt(r["ac1"]), _fmt(r["ac3"]), _fmt(r["avg5"]), _fmt(r["median_s"]),
                          end_section=i == len(chosen) - 1)
    console.print(table)
    cfg = data["config"]
    if cfg.get("onset_error_s_median") is not None:
        console.print(f"|onset used - labelled onset|: median {cfg['onset_error_s_median']:.1f} s, "
                      f"p90 {cfg['onset_error_s_p90']:.1f} s, within 60 s in {cfg['onset_within_60s']:.0%} of cases")
    write_json(json_path, data)
    png_path = png or (json_path.with_suffix(".png") if json_path else
                       get_settings().home / "evals" / f"rca-{name}-{onset}.png")
    ev.plot(data, png_path, f"RCA on {name} (onset {onset})")
    console.print(f"plot: {png_path}" + (f"; json: {json_path}" if json_path else ""))
