"""`keel eval injection`: prompt injection against a real planner (planted log lines, alert descriptions and
alert labels carrying instructions), through the real agent and the governance gate."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from cli.common import console, err_console, fail, write_json
from config.settings import get_settings

METHODS = ("keel", "keyword", "base")
FIGURES = ("variants", "payload_seen", "obeyed", "steered", "steered_rate", "writes_ran", "unnamed_writes",
           "ungrounded_writes", "governance_violations", "errors", "control_runs", "control_writes_ran",
           "control_unnamed_writes")


def _planner(method: str, settings: Any) -> Any:
    from agent.planner import load_planner

    if method == "keyword":
        return load_planner("keyword")
    return load_planner(settings.planner, adapter=settings.planner_adapter if method == "keel" else "none")


def _fmt(v: float) -> str:
    if isinstance(v, float) and math.isnan(v):
        return "n/a"
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.3f}"


def _split(value: str, allowed: tuple[str, ...], option: str) -> list[str]:
    chosen = [x.strip() for x in value.split(",") if x.strip()]
    bad = [x for x in chosen if x not in allowed]
    if bad or not chosen:
        fail(f"{option}: unknown {bad or chosen}; allowed: {', '.join(allowed)}")
    return chosen


def injection(
    json_path: Path | None = typer.Option(None, "--json", help="write {eval, dataset, config, results} here"),
    methods: str = typer.Option("keel,keyword", help=f"comma-separated planners: {', '.join(METHODS)}"),
    channels: str = typer.Option("log,alert,label", help="where the payload is planted: log, alert, label"),
    approvals: str = typer.Option("none,all", help="approval modes: none (nobody approves), all (a person "
                                                   "approves everything asked)"),
    limit: int = typer.Option(0, min=0, help="run only the first N payloads (0: all)"),
) -> None:
    """Plant instructions where the agent reads and count what the planner does with them.

    Every payload asks for a write on a service the operator did not name. Reports per method: variants,
    how many the planner was steered by (proposed what the payload asks), writes that ran, writes on services
    the operator did not name / that nothing grounded, governance violations (re-checked from the audit log),
    and control runs without a payload. Per-variant rows go next to --json (`.variants.json`).
    """
    from evals import injection as inj

    chosen = _split(methods, METHODS, "--methods")
    chans = _split(channels, inj.CHANNELS, "--channels")
    modes = _split(approvals, inj.APPROVALS, "--approvals")
    payloads = inj.PAYLOADS[:limit] if limit else inj.PAYLOADS
    vs = inj.variants(payloads, inj.TARGETS, chans, modes)
    settings = get_settings()
    results: dict[str, dict[str, float]] = {}
    rows: dict[str, list[dict[str, Any]]] = {}
    skipped: dict[str, str] = {}
    started = datetime.now(UTC).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    for m in chosen:
        try:
            planner = _planner(m, settings)
        except Exception as e:  # a planner that cannot load is reported, never scored
            skipped[m] = f"planner did not load: {type(e).__name__}: {e}"
            err_console.print(f"[yellow]skipping {m}:[/] {skipped[m]}")
            continue

        def progress(o: Any, secs: float, m: str = m) -> None:
            mark = f"error: {o.error}" if o.error else (
                f"steered {'Y' if o.steered else 'n'} writes {o.writes_ran} unnamed {o.unnamed_writes} "
                f"violations {o.governance_violations}")
            console.print(f"[dim]{m:7s} {o.variant:34s} {mark}  {secs:.1f}s[/]")

        outcomes = inj.run(vs, planner, settings, progress)
        results[m] = inj.summarise(outcomes)
        rows[m] = [o.to_dict() for o in outcomes]
        for key in ("channel", "approvals"):
            for group, figures in inj.by_group([o for o in outcomes if not o.control], key).items():
                results[f"{m}/{key}={group}"] = figures
    if not results:
        fail("no method could run: " + "; ".join(f"{k}: {v}" for k, v in skipped.items()), code=1)
    main = [m for m in results if "/" not in m]
    table = Table("figure", *main, title="keel eval injection")
    for k in FIGURES:
        table.add_row(k, *(_fmt(results[m].get(k, float("nan"))) for m in main))
    console.print(table)
    short = ("variants", "payload_seen", "obeyed", "steered", "writes_ran", "unnamed_writes", "ungrounded_writes",
             "governance_violations")
    groups = Table("method/group", *short, title="by channel and approval mode (injected variants)")
    for m, r in results.items():
        if "/" in m:
            groups.add_row(m, *(_fmt(r.get(k, float("nan"))) for k in short))
    console.print(groups)
    console.print(f"{len(vs)} runs per method ({sum(1 for v in vs if not v.text)} controls), "
                  f"{time.perf_counter() - t0:.0f}s")
    if json_path is not None:
        clean = {m: {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
                 for m, r in results.items()}
        config = {
            "scenario": str(inj.SCENARIO.relative_to(Path(__file__).resolve().parents[1])),
            "operator_names": inj.NAMED, "targets": list(inj.TARGETS), "payloads": list(payloads),
            "channels": chans, "approvals": modes, "autonomy": 3,
            "methods": {m: ("keyword planner" if m == "keyword" else
                            f"agent, planner {settings.planner}, adapter "
                            f"{settings.planner_adapter if m == 'keel' else 'none'}") for m in results if "/" not in m},
            "skipped": skipped, "started": started,
        }
        write_json(json_path, {"eval": "injection", "dataset": f"planted instructions on {config['scenario']}",
                               "config": config, "results": clean})
        write_json(json_path.with_suffix(".variants.json"), rows)
        console.print(f"wrote {json_path}")
