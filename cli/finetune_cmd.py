"""`keel finetune ...`: reproduce the shipped models (`slm`: the planner's LoRA adapter)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from cli import finetune_policy_cmd
from cli.common import console, fail
from config.settings import get_settings

app = typer.Typer(help="Fine-tune the shipped models (resumable; long runs belong under nohup).",
                  no_args_is_help=True)

ARTIFACTS = Path(__file__).resolve().parents[1] / "finetune" / "artifacts"


@app.command("slm")
def slm(
    steps: int = typer.Option(800, help="optimiser steps (the shipped adapter: 800, about 48 min on 2 cores)"),
    batch_size: int = typer.Option(12, help="examples per step"),
    lr: float = typer.Option(4e-4, help="peak learning rate"),
    rank: int = typer.Option(16, help="LoRA rank"),
    max_len: int = typer.Option(256, help="tokens per example (longer prompts lose their oldest observations)"),
    seed: int = typer.Option(0, help="data and training seed"),
    n_single: int = typer.Option(6000, help="single-step examples to generate"),
    n_traj: int = typer.Option(300, help="one-call-then-answer simulator scripts to record"),
    n_investigations: int = typer.Option(700, help="whole simulated incidents to record (analysis, mitigation, "
                                                   "answer)"),
    n_summary: int = typer.Option(300, help="incident-summary examples"),
    run_dir: Path | None = typer.Option(None, help="checkpoints and logs (default $KEEL_HOME/finetune/slm/run)"),
    max_minutes: float | None = typer.Option(None, help="stop (resumably) after this many minutes"),
    data_only: bool = typer.Option(False, help="only write train/dev JSONL"),
    export_only: bool = typer.Option(False, help="only export the run's adapter to GGUF"),
    out: Path = typer.Option(ARTIFACTS / "keel-planner-lora.gguf", help="GGUF adapter to write"),
    limit: int | None = typer.Option(None, help="train on the first N examples only (smoke tests)"),
    init_from: Path | None = typer.Option(None, help="start from this run's checkpoint.pt or a GGUF LoRA adapter "
                                                     "(continued training)"),
    data: str = typer.Option("v2", help="training mix: v2 (generated inventories, dialogue, shop) | run7 (shop "
                                        "only, as the run-7 adapter was trained)"),
    n_inventory: int = typer.Option(3000, help="v2: single-step requests on generated inventories"),
    n_dialogue: int = typer.Option(2800, help="v2: requests with earlier exchanges (follow-ups, corrections, ...)"),
    card: list[str] = typer.Option([], help="only write MODEL_CARD.md next to --out from the run dir and "
                                            "planner-eval JSONs given as TITLE=PATH (repeatable)"),
    card_notes: Path | None = typer.Option(None, help="Markdown file appended to the model card as notes"),
    progress: bool = typer.Option(True, help="show a progress bar"),
    threads: int = typer.Option(2, min=1, help="torch threads (1 is faster when the cores are busy with other work)"),
) -> None:
    """Generate data, LoRA-train Gemma 3 270M (resuming from the run dir), export the GGUF adapter."""
    from finetune.slm.data import read_jsonl, write_eval_cases, write_jsonl
    from finetune.slm.dataset import build_dataset

    if steps < 1 or batch_size < 1:
        fail("--steps and --batch-size must be at least 1")
    if data not in ("v2", "run7"):
        fail(f"--data: got {data!r}; allowed: v2, run7")
    if init_from is not None and not init_from.exists():
        fail(f"--init-from: {init_from} does not exist")
    rd = run_dir or get_settings().home / "finetune" / "slm" / "run"
    if card:
        from finetune.slm.card import model_card

        pairs = [c.split("=", 1) for c in card]
        if any(len(p) != 2 for p in pairs):
            fail("--card takes TITLE=PATH")
        notes = card_notes.read_text() if card_notes else ""
        text = model_card(rd, {t: Path(p) for t, p in pairs}, out, notes)
        (out.parent / "MODEL_CARD.md").write_text(text)
        console.print(f"wrote {out.parent / 'MODEL_CARD.md'}")
        return
    data_dir = rd / "data"
    if not export_only:
        if not (data_dir / "train.jsonl").exists() and data == "v2":
            _write_v2(data_dir, seed, n_single, n_inventory, n_dialogue, n_traj, n_summary, n_investigations,
                      progress)
        elif not (data_dir / "train.jsonl").exists():
            train_rows, dev_rows = build_dataset(seed, n_single=n_single, n_traj=n_traj, n_summary=n_summary,
                                                 n_investigations=n_investigations, progress=progress)
            write_jsonl(data_dir / "train.jsonl", train_rows)
            write_jsonl(data_dir / "dev.jsonl", dev_rows)
            console.print(f"data: {len(train_rows)} train, {len(dev_rows)} dev examples -> {data_dir}")
        if not (data_dir / "dev_cases.jsonl").exists():
            write_eval_cases(data_dir)
        if data_only:
            return
        from finetune.slm.train import TrainConfig, train

        rows = read_jsonl(data_dir / "train.jsonl")
        if limit:
            rows = rows[:limit]
        cfg = TrainConfig(run_dir=rd, steps=steps, batch_size=batch_size, lr=lr, rank=rank, alpha=2 * rank,
                          max_len=max_len,
                          seed=seed, max_minutes=max_minutes, save_every=max(1, min(25, steps)),
                          init_from=init_from, threads=threads)
        summary = train(rows, cfg, progress=progress)
        console.print(json.dumps(summary))
        if not summary["done"]:
            console.print("stopped early; run the same command again to resume")
            return
    from finetune.slm.export_gguf import export_adapter

    if export_only and (rd / "checkpoint.pt").exists() and not _finished(rd):
        from finetune.slm.export_gguf import export_checkpoint

        path = export_checkpoint(rd / "checkpoint.pt", out, alpha=2 * rank, dtype="f16")
        console.print(f"adapter GGUF (checkpoint of an unfinished run) -> {path} ({path.stat().st_size / 1e6:.1f} MB)")
        return
    if not (rd / "adapter").exists():
        fail(f"no trained adapter in {rd / 'adapter'}; train first")
    path = export_adapter(rd / "adapter", out, dtype="f16")
    console.print(f"adapter GGUF -> {path} ({path.stat().st_size / 1e6:.1f} MB)")


@app.command("slm-average")
def slm_average(
    adapters: list[Path] = typer.Argument(..., help="GGUF LoRA adapters of one training setup (same rank)"),
    weights: str = typer.Option("", help="comma-separated weights summing to 1, one per adapter (default: equal)"),
    out: Path = typer.Option(ARTIFACTS / "keel-planner-lora.gguf", help="GGUF adapter to write"),
) -> None:
    """Write one adapter whose weight change is the weighted mean of the given adapters' (cut back to their rank)."""
    from finetune.slm.average import Adapter, average
    from finetune.slm.export_gguf import read_adapter, write_adapter

    missing = [str(a) for a in adapters if not a.exists()]
    if missing:
        fail(f"adapter not found: {', '.join(missing)}")
    try:
        ws = [float(w) for w in weights.split(",")] if weights else [1.0 / len(adapters)] * len(adapters)
    except ValueError:
        fail(f"--weights: {weights!r} is not a comma-separated list of numbers")
    try:
        result = average([Adapter(*read_adapter(a)) for a in adapters], ws)
    except ValueError as e:
        fail(str(e))
    path = write_adapter(result.adapter.tensors, result.adapter.alpha, out, dtype="f16")
    console.print(f"averaged {len(adapters)} adapters (weights {ws}; the rank cut keeps >= {result.kept:.5f} of "
                  f"every change) -> {path}")


def _finished(run_dir: Path) -> bool:
    state = run_dir / "state.json"
    return state.exists() and bool(json.loads(state.read_text()).get("done"))


def _write_v2(data_dir: Path, seed: int, n_shop: int, n_inventory: int, n_dialogue: int, n_traj: int,
              n_summary: int, n_investigations: int, progress: bool) -> None:
    """train.jsonl, dev.jsonl (shop) and the v2 dev case files (`dev_names_cases.jsonl`, `dev_dialogue_cases.jsonl`)."""
    from collections import Counter

    from finetune.slm.data import write_jsonl
    from finetune.slm.dataset import build_dataset_v2
    from finetune.slm.dialogue import as_cases

    train_rows, dev = build_dataset_v2(seed, n_shop=n_shop // 2, n_inventory=n_inventory, n_dialogue=n_dialogue,
                                       n_traj=n_traj * 2 // 3, n_summary=n_summary * 2 // 3,
                                       n_investigations=n_investigations * 4 // 7, progress=progress)
    write_jsonl(data_dir / "train.jsonl", train_rows)
    write_jsonl(data_dir / "dev.jsonl", dev["shop"])
    write_jsonl(data_dir / "dev_names_cases.jsonl", as_cases(dev["names"], "names"))
    write_jsonl(data_dir / "dev_dialogue_cases.jsonl", as_cases(dev["dialogue"], "dialogue"))
    kinds = Counter(r["kind"] for r in train_rows)
    (data_dir / "mix.json").write_text(json.dumps({"train": dict(kinds), "dev": {k: len(v) for k, v in dev.items()}},
                                                  indent=2))
    console.print(f"data: {len(train_rows)} train ({dict(kinds)}) -> {data_dir}")


app.command("policy")(finetune_policy_cmd.policy)
