"""`keel eval planner`: the fine-tuned planner vs the base model and the keyword router on planner cases."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from cli.common import console, fail, write_json
from config.settings import get_settings

METHODS = ("keel", "base", "keyword")


def planner(
    cases: Path | None = typer.Option(None, "--cases", help="JSONL cases (default ../shared/evals/planner_dev.jsonl)"),
    backend: str = typer.Option("llama", help="llama | transformers"),
    adapter: str = typer.Option("default", help="GGUF LoRA adapter for `keel`: default | PATH | none"),
    json_path: Path | None = typer.Option(None, "--json", help="write {eval, dataset, config, results} here"),
    methods: str = typer.Option(",".join(METHODS), help=f"comma-separated: {', '.join(METHODS)}"),
    limit: int = typer.Option(0, min=0, help="only the first N cases (0: all)"),
    png: Path | None = typer.Option(None, help="plot here (default: next to --json)"),
    misses: bool = typer.Option(False, help="print the keel method's misses (keep off for held-out sets)"),
    trajectories: Path | None = typer.Option(None, help="also score keel's next call on multi-step rows of this "
                                                         "training-format JSONL (e.g. the run's data/dev.jsonl)"),
    batching: bool | None = typer.Option(None, "--batching/--no-batching", help="llama: decode concurrent calls "
                                         "in one batch (default: the planner_batching setting); the predictions "
                                         "must not change"),
    concurrency: int = typer.Option(1, min=1, max=64, help="cases planned at once (latencies then include "
                                                           "waiting; >1 exercises batched decoding)"),
) -> None:
    """Tool and argument accuracy, unnamed writes, per-tool confusion and latency p50/p95 for keel, base and keyword.

    Cases may carry `services` (the inventory the case is asked on) and `messages` (earlier OpenAI chat
    messages); every planned call goes through the agent's grounded-target check before it is scored. The
    JSON lists every case (id, expected, predicted, ok flags, ms) under `cases`."""
    from agent.planner import load_planner
    from evals.planner import DEFAULT_CASES, load_cases, plot, run_method, to_json

    if backend not in ("llama", "transformers"):
        fail(f"--backend: got {backend!r}; allowed: llama, transformers")
    chosen = [m.strip() for m in methods.split(",") if m.strip()]
    bad = [m for m in chosen if m not in METHODS]
    if bad or not chosen:
        fail(f"--methods: unknown {bad or chosen}; allowed: {', '.join(METHODS)}")
    path = cases or DEFAULT_CASES
    try:
        rows = load_cases(path)
    except (ValueError, FileNotFoundError) as e:
        fail(str(e))
    if limit:
        rows = rows[:limit]
    results = []
    for m in chosen:
        kind = "keyword" if m == "keyword" else backend
        try:
            p = load_planner(kind, adapter=adapter if m == "keel" else "none", batching=batching)
        except FileNotFoundError as e:
            fail(str(e))
        with console.status(f"{m}: planning {len(rows)} cases"):
            results.append(run_method(m, p.plan, rows, concurrency=concurrency))
    _print(results)
    if misses and results and results[0].name == "keel":
        bad_rows = [r for r in results[0].rows if not r["args_ok"]]
        for r in bad_rows[:40]:
            console.print(f"[red]miss[/] {r['id']}: {r['request']!r} expected {r['expected']} {r['expected_args']} "
                          f"got {r['raw'].strip()!r}")
    extra: dict[str, dict[str, float]] = {}
    if trajectories is not None:
        import json

        from evals.planner import score_prompts

        keel = load_planner(backend, adapter=adapter, batching=batching)
        rows_t = [json.loads(x) for x in trajectories.read_text().splitlines() if x.strip()]
        with console.status("keel: multi-step next calls"):
            extra["keel_multistep"] = score_prompts(lambda p: keel.complete(p, 64), rows_t)  # type: ignore[attr-defined]
        console.print(f"multi-step next call (keel): {extra['keel_multistep']}")
    settings = get_settings()
    config = {"backend": backend, "adapter": adapter, "cases": len(rows),
              "threads": settings.planner_threads,
              "batching": settings.planner_batching if batching is None else batching, "concurrency": concurrency,
              "merged": backend == "llama" and settings.planner_merge,
              "base": "no adapter, 6-shot prefix, same validation and grammar fallback"}
    if json_path:
        out = to_json(str(path), config, results)
        if extra:
            out["extra"] = extra
        write_json(json_path, out)
        console.print(f"wrote {json_path}")
    out_png = png or (json_path.with_suffix(".png") if json_path else None)
    if out_png:
        plot(results, out_png)
        console.print(f"wrote {out_png}")


SHORT = {"query_metrics": "metrics", "search_logs": "logs", "get_topology": "topo", "root_cause_analysis": "rca",
         "recommend_scaling": "rec", "scale_service": "scale", "restart_service": "restart",
         "rollback_deployment": "rollback", "run_runbook": "runbook", "post_incident_summary": "post",
         "respond": "respond", "(no plan)": "none"}


COLUMNS = ("tool_acc", "args_acc", "unnamed_write_rate", "planner_unnamed_write_rate", "wrong_write_rate", "p50_ms",
           "p95_ms", "fallback_rate", "no_plan_rate", "n")
SHORT_COLUMNS = {"unnamed_write_rate": "unnamed_w", "planner_unnamed_write_rate": "planner_unnamed_w",
                 "wrong_write_rate": "wrong_w", "fallback_rate": "fallback", "no_plan_rate": "no_plan"}


def _print(results: list) -> None:
    t = Table(title="planner (unnamed_w: writes on ungrounded targets after the agent's check; planner_unnamed_w: "
                    "before it; wrong_w: writes other than the expected one)")
    for col in ("method", *COLUMNS):
        t.add_column(SHORT_COLUMNS.get(col, col), justify="right" if col != "method" else "left")
    for r in results:
        m = r.metrics()
        t.add_row(r.name, *(f"{m[k]}" for k in COLUMNS))
    console.print(t)
    kinds = [k for k in results[0].by_kind() if k] if results else []
    if kinds:
        kt = Table(title="by case kind: tool_acc / args_acc / planner_unnamed_w")
        kt.add_column("kind")
        for r in results:
            kt.add_column(r.name, justify="right")
        per = [r.by_kind() for r in results]
        for k in kinds:
            kt.add_row(f"{k} ({int(per[0][k]['n'])})", *(f"{p[k]['tool_acc']} / {p[k]['args_acc']} / "
                                                         f"{p[k]['planner_unnamed_write_rate']}" for p in per))
        console.print(kt)
    for r in results:
        conf = r.confusion()
        tools = sorted({e for e, _ in conf})
        preds = sorted({p for _, p in conf})
        ct = Table(title=f"{r.name}: expected (rows) x predicted (columns)")
        ct.add_column("expected")
        for p in preds:
            ct.add_column(SHORT.get(p, p), justify="right")
        for e in tools:
            ct.add_row(SHORT.get(e, e), *(str(conf.get((e, p), "")) for p in preds))
        console.print(ct)
