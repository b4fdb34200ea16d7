"""Weight averaging of LoRA adapters: one adapter whose weight change is a weighted mean of several adapters'.

Runs continued from one another (run 10 from run 9) learn close weight changes; their weighted mean often keeps
what each run learned better than either run alone ("model soups"). For every adapted matrix the mean change
sum_i w_i * B_i @ A_i is formed and cut back to the adapters' rank by a truncated SVD (the best rank-r
approximation), split evenly between the new A and B. `kept` reports the smallest share of a change's energy the
cut keeps. Pure numpy; reading and writing GGUF files is `finetune.slm.export_gguf`'s job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Tensors = dict[str, np.ndarray]


@dataclass(frozen=True)
class Adapter:
    """A LoRA adapter's peft-named A and B tensors, its alpha and rank."""

    tensors: Tensors
    alpha: float
    rank: int


@dataclass(frozen=True)
class Averaged:
    """The averaged adapter and how much of the mean change its rank keeps."""

    adapter: Adapter
    kept: float  # the smallest share of one matrix's change (squared Frobenius norm) the rank cut keeps


def average(adapters: Sequence[Adapter], weights: Sequence[float]) -> Averaged:
    """The weighted mean of `adapters` as one adapter of the same rank and alpha; raise ValueError on a mismatch."""
    if len(adapters) < 2 or len(adapters) != len(weights):
        raise ValueError(f"need >= 2 adapters and one weight each; got {len(adapters)} adapters, "
                         f"{len(weights)} weights")
    if any(w < 0 for w in weights) or abs(sum(weights) - 1.0) > 1e-6:
        raise ValueError(f"weights must be >= 0 and sum to 1; got {list(weights)}")
    first = adapters[0]
    for a in adapters[1:]:
        if (a.rank, a.alpha) != (first.rank, first.alpha) or set(a.tensors) != set(first.tensors):
            raise ValueError("adapters differ in rank, alpha or adapted matrices; only adapters of one training "
                             f"setup can be averaged (ranks {[x.rank for x in adapters]}, alphas "
                             f"{[x.alpha for x in adapters]})")
    r = first.rank
    out: Tensors = {}
    kept = 1.0
    for a_name in sorted(k for k in first.tensors if k.endswith("lora_A.weight")):
        b_name = a_name.replace("lora_A", "lora_B")
        delta = sum(w * (ad.tensors[b_name].astype(np.float64) @ ad.tensors[a_name].astype(np.float64))
                    for ad, w in zip(adapters, weights, strict=True))
        u, s, vt = np.linalg.svd(np.asarray(delta), full_matrices=False)
        total = float((s ** 2).sum())
        kept = min(kept, float((s[:r] ** 2).sum()) / total if total > 0 else 1.0)
        root = np.sqrt(s[:r])
        out[b_name] = (u[:, :r] * root).astype(np.float32)
        out[a_name] = (root[:, None] * vt[:r]).astype(np.float32)
    return Averaged(Adapter(out, first.alpha, first.rank), kept)
