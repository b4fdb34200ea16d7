"""Calibrated confidence that the first candidate is the root cause.

Three features of a ranking, read from all the simple scores (`causal.scores.SCORES`) whichever of them the
ranking used: `agree`, the share of the scores whose own top service is the ranking's first; `gap`, the
mean over scores of log(1 + the first service's score) - log(1 + the best other service's score), i.e.
how far the first stands out; and `strength`, the mean of log(1 + the first service's score). A logistic
curve maps them to a probability. Its coefficients are fitted by `keel eval rca-protocol --write` on the
synthetic benchmark and stored with the shipped configuration (`causal/shipped.json`); below `THRESHOLD`
an answer says the analysis is inconclusive and names the top three instead of asserting one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from causal.config import CALIBRATION

THRESHOLD = 0.5
FEATURES = ("agree", "gap", "strength")
GAP_LIMIT = 5.0


def features(components: Sequence[str], matrix: np.ndarray, top: str | None,
             service_of: dict[str, str]) -> dict[str, float]:
    """`matrix`: components x every simple score; `top`: the ranking's first service."""
    if top is None or not len(components):
        return dict.fromkeys(FEATURES, 0.0)
    svc = np.array([service_of.get(c, c) for c in components])
    mine = svc == top
    logs = np.log1p(np.maximum(np.nan_to_num(matrix), 0.0))
    tops = svc[np.argmax(matrix, axis=0)]
    agree = float(np.mean(tops == top))
    if not mine.any():  # a service with no metrics of its own (inferred from the call graph)
        return {"agree": agree, "gap": -GAP_LIMIT / 2, "strength": 0.0}
    best_mine = logs[mine].max(axis=0)
    best_other = logs[~mine].max(axis=0) if (~mine).any() else np.zeros(logs.shape[1])
    gap = float(np.clip(np.mean(best_mine - best_other), -GAP_LIMIT, GAP_LIMIT))
    return {"agree": agree, "gap": gap, "strength": float(np.mean(best_mine))}


def coefficients() -> dict[str, float]:
    """{"intercept", *FEATURES}; a flat 0.5 until a calibration has been fitted."""
    return {k: float(CALIBRATION.get(k, 0.0)) for k in ("intercept", *FEATURES)}


def calibrated(feats: dict[str, float], coef: dict[str, float] | None = None) -> float:
    c = coef or coefficients()
    z = c["intercept"] + sum(c.get(f, 0.0) * feats.get(f, 0.0) for f in FEATURES)
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))
