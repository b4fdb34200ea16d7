"""Calibrated confidence that the first candidate is the root cause.

A logistic curve over two features of the ranking (`causal.aggregate.confidence_features`): `agree`, the
share of the simple scores whose own top service is the final first one, and `margin`, the relative gap
between the first and second values. Its coefficients are fitted by `keel eval rca-protocol --calibrate`
on the synthetic benchmark and stored with the shipped configuration (`causal/shipped.json`); below `THRESHOLD` an answer
says the analysis is inconclusive and names the top three instead of asserting one.
"""

from __future__ import annotations

import math

from causal.config import CALIBRATION

THRESHOLD = 0.5
FEATURES = ("agree", "margin")


def coefficients() -> dict[str, float]:
    """{"intercept", "agree", "margin"}; a flat 0.5 until a calibration has been fitted."""
    return {k: float(CALIBRATION.get(k, 0.0)) for k in ("intercept", *FEATURES)}


def calibrated(features: dict[str, float], coef: dict[str, float] | None = None) -> float:
    c = coef or coefficients()
    z = c["intercept"] + sum(c[f] * features.get(f, 0.0) for f in FEATURES)
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))
