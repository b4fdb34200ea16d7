"""Confidence calibration: a logistic fit of top-1 correctness on ranking features, and the table of
predicted-confidence buckets against observed top-1 accuracy."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

from causal.confidence import FEATURES

BUCKETS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0001)


def fit_calibration(features: Sequence[dict[str, float]], correct: Sequence[bool],
                    names: Sequence[str] = FEATURES) -> dict[str, float]:
    """Logistic regression of correctness on the named features, by Newton's method with a small ridge."""
    x = np.array([[1.0, *(f[k] for k in names)] for f in features])
    y = np.array(correct, dtype=float)
    k = x.shape[1]
    w = np.zeros(k)
    for _ in range(50):
        p = 1 / (1 + np.exp(-x @ w))
        grad = x.T @ (p - y) + 1e-3 * w
        hess = x.T @ (x * (p * (1 - p))[:, None]) + 1e-3 * np.eye(k)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return {"intercept": float(w[0]), **{n: float(v) for n, v in zip(names, w[1:], strict=True)}}


def calibration_table(conf: Sequence[float], correct: Sequence[bool]) -> list[dict[str, float]]:
    """Predicted-confidence buckets against observed top-1 accuracy (empty buckets left out)."""
    rows = []
    c, y = np.asarray(conf, dtype=float), np.asarray(correct, dtype=float)
    for lo, hi in itertools.pairwise(BUCKETS):
        m = (c >= lo) & (c < hi)
        if m.any():
            rows.append({"lo": lo, "hi": min(hi, 1.0), "n": int(m.sum()), "predicted": float(c[m].mean()),
                         "observed": float(y[m].mean())})
    return rows


def expected_calibration_error(rows: Sequence[dict[str, float]]) -> float:
    n = sum(r["n"] for r in rows)
    return sum(r["n"] * abs(r["predicted"] - r["observed"]) for r in rows) / n if n else math.nan
