"""Fine-tuning smoke test: a handful of LoRA steps on a tiny slice, resumed, exported to a loadable GGUF."""

from __future__ import annotations

import csv
import math
import random
from pathlib import Path

import pytest

from finetune.slm.data import single_step


@pytest.mark.slow
def test_few_lora_steps_resume_and_export(tmp_path: Path) -> None:
    pytest.importorskip("peft")
    from finetune.slm.export_gguf import export_adapter, read_adapter
    from finetune.slm.train import TrainConfig, train

    rng = random.Random(0)
    rows = [single_step(rng, "train") for _ in range(8)]
    run = tmp_path / "run"
    first = train(rows, TrainConfig(run_dir=run, steps=2, batch_size=2, save_every=1, rank=4, alpha=8),
                  progress=False)
    assert first["steps"] == 2 and first["done"] and math.isfinite(first["final_loss"])
    again = train(rows, TrainConfig(run_dir=run, steps=3, batch_size=2, save_every=1, rank=4, alpha=8),
                  progress=False)
    assert again["steps"] == 3  # resumed from the step-2 checkpoint: one more step
    log = list(csv.DictReader((run / "loss.csv").open()))
    assert [int(r["step"]) for r in log] == [1, 2, 3] and all(math.isfinite(float(r["loss"])) for r in log)
    out = export_adapter(run / "adapter", tmp_path / "a.gguf")
    tensors, alpha, rank = read_adapter(out)
    assert (alpha, rank) == (8.0, 4) and len(tensors) == 18 * 7 * 2
