"""LoRA fine-tuning of Gemma 3 270M on planner examples: resumable, logged, CPU-friendly.

Loss is computed on target tokens only, and the (262k-wide) output head is applied only at those
positions, which roughly halves the cost of a step. Checkpoints (adapter + optimiser + step) are written
to the run directory every `save_every` steps and picked up again by the next run with the same directory.
"""

from __future__ import annotations

import csv
import json
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from finetune.slm.base_model import LORA_TARGETS, load_float_model


@dataclass
class TrainConfig:
    run_dir: Path
    steps: int = 300
    batch_size: int = 16
    lr: float = 3e-4
    warmup: int = 15
    rank: int = 16
    alpha: int = 32
    max_len: int = 256
    save_every: int = 25
    seed: int = 0
    threads: int = 2
    max_minutes: float | None = None
    init_from: Path | None = None  # a checkpoint.pt whose adapter weights start a new run


def encode(tok: Any, ex: dict[str, Any], max_len: int) -> tuple[list[int], list[int]]:
    """Token ids and labels (-100 on the prompt); long prompts lose their oldest observations first."""
    p = tok(ex["prompt"], add_special_tokens=True).input_ids
    t = tok(ex["target"], add_special_tokens=False).input_ids
    if len(p) + len(t) > max_len:
        keep = max(8, max_len - len(t))
        p = p[:1] + p[-(keep - 1):]
    ids = (p + t)[:max_len]
    labels = ([-100] * len(p) + t)[:max_len]
    return ids, labels


def batches(n: int, batch_size: int, lengths: list[int], rng: random.Random) -> list[list[int]]:
    """Length-grouped random batches (less padding): shuffle, sort within blocks of 8 batches, split."""
    order = list(range(n))
    rng.shuffle(order)
    out: list[list[int]] = []
    block = batch_size * 8
    for i in range(0, n, block):
        chunk = sorted(order[i : i + block], key=lambda j: lengths[j])
        out += [chunk[k : k + batch_size] for k in range(0, len(chunk), batch_size)]
    rng.shuffle(out)
    return [b for b in out if len(b) == batch_size] or out


def progress_of(step: int, elapsed_s: float, cfg: TrainConfig) -> float:
    """How far through the run we are: by steps, or by wall time when a time budget is set (whichever is later)."""
    frac = step / max(1, cfg.steps)
    if cfg.max_minutes:
        frac = max(frac, elapsed_s / (cfg.max_minutes * 60))
    return min(1.0, frac)


def lr_at(step: int, cfg: TrainConfig, elapsed_s: float = 0.0) -> float:
    """Linear warm-up, then cosine decay to 10% over the run's progress (steps or time budget)."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    frac = progress_of(step, elapsed_s, cfg)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))


def add_lora(model: Any, cfg: TrainConfig) -> Any:
    from peft import LoraConfig, get_peft_model

    conf = LoraConfig(r=cfg.rank, lora_alpha=cfg.alpha, target_modules=list(LORA_TARGETS), lora_dropout=0.0,
                      bias="none", task_type="CAUSAL_LM")
    return get_peft_model(model, conf)


def target_loss(pm: Any, ids: Any, mask: Any, labels: Any) -> Any:
    """Cross-entropy on target tokens, applying the output head only where a label exists."""
    import torch

    core = pm.base_model.model
    hidden = core.model(input_ids=ids, attention_mask=mask).last_hidden_state
    h = hidden[:, :-1]
    y = labels[:, 1:]
    sel = y != -100
    logits = core.lm_head(h[sel])
    softcap = getattr(core.config, "final_logit_softcapping", None)
    if softcap:
        logits = torch.tanh(logits / softcap) * softcap
    return torch.nn.functional.cross_entropy(logits.float(), y[sel])


def collate(items: list[tuple[list[int], list[int]]], pad_id: int) -> tuple[Any, Any, Any]:
    import torch

    width = max(len(i) for i, _ in items)
    ids = torch.full((len(items), width), pad_id, dtype=torch.long)
    labels = torch.full((len(items), width), -100, dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    for r, (i, lab) in enumerate(items):
        ids[r, : len(i)] = torch.tensor(i)
        labels[r, : len(lab)] = torch.tensor(lab)
        mask[r, : len(i)] = 1
    return ids, mask, labels


def train(examples: list[dict[str, Any]], cfg: TrainConfig, progress: bool = True) -> dict[str, Any]:
    """Train (or resume) and write `adapter/` (peft format) plus `loss.csv` and `state.json` to the run dir."""
    import torch
    from tqdm import tqdm

    torch.manual_seed(cfg.seed)
    cfg.run_dir.mkdir(parents=True, exist_ok=True)
    tok, model = load_float_model(cfg.threads)
    pm = add_lora(model, cfg)
    pm.train()
    params = [p for p in pm.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
    ckpt = cfg.run_dir / "checkpoint.pt"
    step, elapsed = 0, 0.0
    if ckpt.exists():
        state = torch.load(ckpt, weights_only=False)
        from peft import set_peft_model_state_dict

        set_peft_model_state_dict(pm, state["adapter"])
        opt.load_state_dict(state["optimizer"])
        step, elapsed = int(state["step"]), float(state.get("elapsed_s", 0.0))
    elif cfg.init_from is not None:
        from peft import set_peft_model_state_dict

        set_peft_model_state_dict(pm, initial_adapter(cfg.init_from))
    encoded = [encode(tok, e, cfg.max_len) for e in examples]
    lengths = [len(i) for i, _ in encoded]
    rng = random.Random(cfg.seed)
    plan: list[list[int]] = []
    while len(plan) < cfg.steps:
        plan += batches(len(encoded), cfg.batch_size, lengths, rng)
    (cfg.run_dir / "config.json").write_text(json.dumps({**asdict(cfg), "run_dir": str(cfg.run_dir),
                                                         "init_from": str(cfg.init_from or ""),
                                                         "examples": len(examples)}, indent=2))
    log_path = cfg.run_dir / "loss.csv"
    new_log = not log_path.exists()
    t0 = time.time() - elapsed
    last = float("nan")
    bar = tqdm(total=cfg.steps, initial=step, desc="lora", disable=not progress, dynamic_ncols=True)
    with log_path.open("a", newline="") as f:
        w = csv.writer(f)
        if new_log:
            w.writerow(["step", "loss", "lr", "elapsed_s", "tokens"])
        while step < cfg.steps:
            if cfg.max_minutes is not None and (time.time() - t0) >= cfg.max_minutes * 60:
                break
            idx = plan[step]
            ids, mask, labels = collate([encoded[j] for j in idx], tok.pad_token_id or 0)
            lr = lr_at(step, cfg, time.time() - t0)
            for g in opt.param_groups:
                g["lr"] = lr
            loss = target_loss(pm, ids, mask, labels)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            last = float(loss.item())
            w.writerow([step, f"{last:.4f}", f"{lr:.2e}", f"{time.time() - t0:.1f}",
                        int(mask.sum())])
            f.flush()
            bar.update(1)
            bar.set_postfix(loss=f"{last:.3f}")
            if step % cfg.save_every == 0 or step == cfg.steps:
                save_checkpoint(pm, opt, step, time.time() - t0, cfg.run_dir)
    bar.close()
    save_checkpoint(pm, opt, step, time.time() - t0, cfg.run_dir)
    pm.save_pretrained(cfg.run_dir / "adapter")
    elapsed = time.time() - t0
    summary = {"steps": step, "target_steps": cfg.steps, "final_loss": last, "elapsed_s": round(elapsed, 1),
               "examples": len(examples), "done": progress_of(step, elapsed, cfg) >= 1.0}
    (cfg.run_dir / "state.json").write_text(json.dumps(summary, indent=2))
    return summary


def initial_adapter(path: Path) -> dict[str, Any]:
    """LoRA weights to start from: a run's `checkpoint.pt`, or a GGUF LoRA adapter (e.g. the shipped one)."""
    import torch

    if Path(path).suffix == ".gguf":
        from finetune.slm.export_gguf import read_adapter

        tensors, _, _ = read_adapter(Path(path))
        return {k: torch.from_numpy(v.copy()) for k, v in tensors.items()}
    return torch.load(path, weights_only=False)["adapter"]


def save_checkpoint(pm: Any, opt: Any, step: int, elapsed: float, run_dir: Path) -> None:
    import torch
    from peft import get_peft_model_state_dict

    tmp = run_dir / "checkpoint.pt.tmp"
    torch.save({"adapter": get_peft_model_state_dict(pm), "optimizer": opt.state_dict(), "step": step,
                "elapsed_s": elapsed}, tmp)
    tmp.replace(run_dir / "checkpoint.pt")
