"""`keel bench llama`: planner latency with llama.cpp's extra (repacked) buffer types on and off, same run.

Both models are loaded in this process and the requests alternate between them, so load from other work on
the machine falls on both alike; the ratio off/on is the figure that decides the CPU-dependent default. On a
CPU with AMX the "on" variant crashes llama.cpp and is not run.
"""

from __future__ import annotations

import json
import os
import statistics
from pathlib import Path

import typer

from cli.common import bench_report, console

DEFAULT_CASES = Path(__file__).resolve().parents[2] / "shared" / "evals" / "planner_dev.jsonl"


def bench_llama(
    cases: Path = typer.Option(DEFAULT_CASES, help="JSONL planner cases whose requests are planned"),
    limit: int = typer.Option(40, min=1, help="requests to plan per variant"),
    json_path: Path | None = typer.Option(None, "--json", help="write {bench, figures} to this path"),
) -> None:
    """Median planner call (ms) with extra buffer types off and on, alternating requests; ratio off/on."""
    from agent.planner import default_adapter
    from agent.planner.llama import LlamaPlanner
    from agent.planner.merge import merged_model
    from finetune.slm.base_model import base_gguf
    from finetune.slm.llama_runtime import amx_flags, cpu_summary

    if not cases.exists():
        raise typer.BadParameter(f"no such file: {cases}", param_hint="--cases")
    requests = [json.loads(line)["request"] for line in cases.read_text().splitlines() if line.strip()][:limit]
    model = merged_model(base_gguf(), default_adapter())
    variants = {"off": False} if amx_flags() else {"off": False, "on": True}
    planners = {k: LlamaPlanner(model, None, extra_bufts=v) for k, v in variants.items()}
    for p in planners.values():
        p.warm()
    ms: dict[str, list[float]] = {k: [] for k in planners}
    with typer.progressbar(requests, label="planning") as bar:
        for request in bar:
            for k, p in planners.items():
                ms[k].append(p.plan(request).latency_ms)
    figures = {f"plan_{k}_p50_ms": statistics.median(v) for k, v in ms.items()}
    if "on" in ms:
        figures["ratio_off_on"] = figures["plan_off_p50_ms"] / figures["plan_on_p50_ms"]
    console.print(f"CPU: {cpu_summary()}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
                  + ("" if "on" in ms else f"; AMX ({', '.join(amx_flags())}): 'on' not run, it crashes here"))
    bench_report("llama", figures, {"ratio_off_on": "decides the default where there is no AMX"}, json_path)
