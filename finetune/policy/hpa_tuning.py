"""The tuned HPA: the CPU target a grid search picks on a trace's training split, shared by the evals and training.

`keel eval scaling` compares every controller with `hpa_tuned`, the HPA whose CPU target (one of `TUNING_GRID`)
has the best mean evaluation reward on the training split of a trace: the evaluated trace's own when it has one,
otherwise the policies' training trace. A residual policy is trained as corrections to exactly that HPA, so the
same function picks its base target (`train`), and the evals' d = 0 policy is the evals' `hpa_tuned` exactly.
Results are cached as JSON under `cache_dir` (when given), keyed by everything they depend on.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from finetune.policy.hpa import TUNING_GRID
from finetune.policy.reward import RewardWeights
from finetune.policy.rollout import HPAController, run
from finetune.policy.traffic import Trace, entry_scale, split_bounds
from runtime.forecast import LOOKBACK

HISTORY = LOOKBACK  # warm-up minutes before a split: the history the forecaster reads
CRITERION = "best mean reward"


def window(tr: Trace, lo: int, hi: int, scale: float) -> tuple[np.ndarray, int]:
    """Entry rps for minutes [lo, hi) preceded by HISTORY warm-up minutes, and the clock of the first one."""
    pre = tr.counts[lo - HISTORY : lo] if lo >= HISTORY else np.full(HISTORY, tr.counts[lo])
    return np.concatenate([pre, tr.counts[lo:hi]]) * scale, (tr.clock0 + lo - HISTORY) % 1440


def _cache_key(parts: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def tune_on_training_split(
    train_tr: Trace,
    service: str,
    seed: int = 0,
    weights: RewardWeights | None = None,
    grid: tuple[float, ...] = TUNING_GRID,
    cache_dir: Path | None = None,
    source: str | None = None,
) -> tuple[float, dict[str, Any]]:
    """Grid-search the HPA CPU target on `train_tr`'s training split by mean reward; returns (target, provenance).

    The service, simulator seed and reward weights are those of the run the target is for (the evals: the
    evaluated service, seed 0, `RewardWeights()`).
    """
    w = weights or RewardWeights()
    lo, hi = split_bounds(len(train_tr), "train")
    scale = entry_scale(train_tr.counts, service)
    load, clock0 = window(train_tr, lo, hi, scale)
    key = _cache_key({"counts": hashlib.sha256(train_tr.counts.tobytes()).hexdigest(), "lo": lo, "hi": hi,
                      "service": service, "seed": seed, "grid": grid, "weights": w.to_dict(), "clock0": clock0,
                      "warmup": HISTORY, "version": 2})
    cache = cache_dir / f"hpa-tuning-{key}.json" if cache_dir else None
    if cache and cache.exists():
        data = json.loads(cache.read_text())
        return float(data["target"]), {**data["provenance"], "cached": str(cache)}
    scores = {}
    for t in grid:
        scores[t] = run(HPAController("hpa", t), load, service, HISTORY, clock0, seed, w).summary(w)
    best = max(grid, key=lambda t: scores[t]["mean_reward"])
    prov = {"source": source or f"{train_tr.name} training split", "minutes": hi - lo, "grid": list(grid),
            "criterion": CRITERION, "train_scores": {str(t): scores[t] for t in grid}}
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({"target": best, "provenance": prov}))
    return best, prov
