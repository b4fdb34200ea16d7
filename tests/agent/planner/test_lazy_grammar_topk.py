"""The lazy grammar's rejected-token path: the best allowed token among the top ones, else the whole vocabulary."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from agent.planner import lazy_grammar
from agent.planner.lazy_grammar import _TOKEN_DATA, TOP_K, LazyGrammar

llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")


def _checker(allowed: set[int]) -> LazyGrammar:
    """A LazyGrammar whose grammar allows exactly `allowed` (no native sampler)."""
    g = object.__new__(LazyGrammar)
    g._ll = llama_cpp
    g.rejections = g.vocab_checks = g.steps = 0
    g.checked: list[int] = []  # type: ignore[misc]

    def apply(data: Any, size: int) -> None:
        view = np.frombuffer(data, dtype=_TOKEN_DATA, count=size)  # type: ignore[call-overload]
        g.checked.append(size)  # type: ignore[attr-defined]
        for i in range(size):
            if int(view["id"][i]) not in allowed:
                view["logit"][i] = -np.inf

    g._apply = apply  # type: ignore[method-assign]
    return g


def _logits(n: int = 5000, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=n).astype(np.single)


def test_an_allowed_token_among_the_best_is_found_without_the_whole_vocabulary() -> None:
    logits = _logits()
    order = np.argsort(-logits)
    want = int(order[5])  # the 6th best token, the best one allowed
    g = _checker({want, int(order[40]), int(order[4000])})
    assert g._best_allowed(logits) == want
    assert g.vocab_checks == 0 and g.checked == [TOP_K]  # type: ignore[attr-defined]


def test_only_tokens_outside_the_best_allowed_checks_the_whole_vocabulary() -> None:
    logits = _logits()
    order = np.argsort(-logits)
    g = _checker({int(order[3000]), int(order[200])})
    assert g._best_allowed(logits) == int(order[200])
    assert g.vocab_checks == 1 and g.checked == [TOP_K, len(logits)]  # type: ignore[attr-defined]


def test_a_tie_with_a_token_left_out_goes_to_the_whole_vocabulary_and_the_lower_id() -> None:
    logits = np.zeros(1000, dtype=np.single)  # every token ties: only the whole vocabulary knows the lowest id
    g = _checker({3, 700})
    assert g._best_allowed(logits) == 3
    assert g.vocab_checks == 1


def test_no_allowed_token_is_an_error_not_a_guess() -> None:
    with pytest.raises(ValueError, match="allows no token"):
        _checker(set())._best_allowed(_logits())


def test_the_result_is_the_full_grammar_argmax_on_random_cases() -> None:
    rng = np.random.default_rng(1)
    for seed in range(30):
        logits = _logits(3000, seed)
        allowed = {int(t) for t in rng.choice(3000, size=int(rng.integers(1, 50)), replace=False)}
        best = max(allowed, key=lambda t: (logits[t], -t))
        assert _checker(allowed)._best_allowed(logits) == best
    assert lazy_grammar.TOP_K < 3000
