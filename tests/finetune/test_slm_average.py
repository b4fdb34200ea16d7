"""Weight averaging of LoRA adapters: the mean change, cut back to the rank, and the errors on a mismatch."""

from __future__ import annotations

import numpy as np
import pytest

from finetune.slm.average import Adapter, average

A = "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"
B = "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"


def _adapter(rng: np.random.Generator, rank: int = 4, alpha: float = 8.0) -> Adapter:
    return Adapter({A: rng.normal(size=(rank, 12)).astype(np.float32),
                    B: rng.normal(size=(10, rank)).astype(np.float32)}, alpha, rank)


def _delta(ad: Adapter) -> np.ndarray:
    return ad.tensors[B].astype(np.float64) @ ad.tensors[A].astype(np.float64)


def test_average_of_an_adapter_with_itself_is_its_change() -> None:
    one = _adapter(np.random.default_rng(0))
    out = average([one, one], [0.3, 0.7])
    assert np.allclose(_delta(out.adapter), _delta(one), atol=1e-4)
    assert out.kept == pytest.approx(1.0)
    assert (out.adapter.rank, out.adapter.alpha) == (4, 8.0)
    assert out.adapter.tensors[A].shape == (4, 12) and out.adapter.tensors[B].shape == (10, 4)


def test_average_is_the_best_rank_r_approximation_of_the_mean_change() -> None:
    rng = np.random.default_rng(1)
    x, y = _adapter(rng), _adapter(rng)
    out = average([x, y], [0.5, 0.5])
    mean = 0.5 * _delta(x) + 0.5 * _delta(y)
    s = np.linalg.svd(mean, compute_uv=False)
    err = np.linalg.norm(mean - _delta(out.adapter)) ** 2
    assert err == pytest.approx(float((s[4:] ** 2).sum()), rel=1e-3)  # Eckart-Young: the SVD cut is optimal
    assert out.kept == pytest.approx(float((s[:4] ** 2).sum() / (s ** 2).sum()), rel=1e-6)
    assert out.kept < 1.0  # two unrelated random adapters do not fit in rank 4


def test_weight_one_returns_that_adapter() -> None:
    rng = np.random.default_rng(2)
    x, y = _adapter(rng), _adapter(rng)
    assert np.allclose(_delta(average([x, y], [1.0, 0.0]).adapter), _delta(x), atol=1e-4)


@pytest.mark.parametrize("weights", [[0.5, 0.6], [-0.2, 1.2], [1.0]])
def test_bad_weights_are_refused(weights: list[float]) -> None:
    rng = np.random.default_rng(3)
    with pytest.raises(ValueError, match="weight"):
        average([_adapter(rng), _adapter(rng)], weights)


def test_adapters_of_different_ranks_are_refused() -> None:
    rng = np.random.default_rng(4)
    with pytest.raises(ValueError, match="rank"):
        average([_adapter(rng, rank=4), _adapter(rng, rank=8)], [0.5, 0.5])
