"""Onset detection: the single change point shared by the metrics that moved the most.

Each metric gets a rank-based CUSUM profile (the standardised Mann-Whitney statistic of every split of
the window into before/after), which is robust to outliers and to the metric's units. Metrics whose best
split is significant are weighted by the size of the shift at that split (in robust units, as in
`causal.anomaly`), the strongest few are summed, and the split with the largest total is the onset.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from causal.anomaly import REL_FLOOR

Z_MIN = 3.0  # a metric's best split must be at least this significant to vote
TOP_K = 10  # metrics that vote
SHORT_FRACTION = 0.8  # in short windows, where Z_MIN is unreachable, a near-perfect separation votes


@dataclass(frozen=True)
class ChangePoint:
    onset: float | None  # epoch seconds of the first row after the change; None when nothing changed
    index: int  # row index of that first row (-1 when none)
    strength: float  # the largest per-metric Mann-Whitney z among the voters
    voters: list[tuple[str, str]]


def _min_segment(n: int) -> int:
    return max(2, n // 20)


def mann_whitney_profile(values: np.ndarray) -> np.ndarray:
    """|z| of the Mann-Whitney U statistic for splitting before row tau, for tau = 1..n-1 (index tau-1)."""
    n = len(values)
    r = rankdata(values)
    tau = np.arange(1, n)
    w = np.cumsum(r)[:-1]
    u = w - tau * (tau + 1) / 2.0
    mean = tau * (n - tau) / 2.0
    var = tau * (n - tau) * (n + 1) / 12.0
    return np.abs(u - mean) / np.sqrt(var)


def detect(metrics: pd.DataFrame, rel_floor: float = REL_FLOOR) -> ChangePoint:
    """The most supported single change point of a prepared metrics table (rows in time order)."""
    n = len(metrics)
    m = _min_segment(n)
    if n < 2 * m + 1:
        return ChangePoint(None, -1, 0.0, [])
    x = metrics.to_numpy(dtype=float)
    valid = np.arange(m, n - m + 1)  # first row of the "after" segment
    zmax = np.sqrt(3.0 * valid * (n - valid) / (n + 1))  # |z| of a perfect separation at each split
    candidates = []
    for j in range(x.shape[1]):
        prof = mann_whitney_profile(x[:, j])[valid - 1]
        k = int(np.argmax(prof))
        if prof[k] < min(Z_MIN, SHORT_FRACTION * zmax[k]):
            continue
        tau = int(valid[k])
        before, after = x[:tau, j], x[tau:, j]
        med = np.median(before)
        iqr = np.subtract(*np.percentile(before, [75, 25]))
        scale = max(iqr, rel_floor * abs(med), 1e-9 + 1e-6 * np.abs(before).max())
        effect = abs(np.median(after) - med) / scale
        candidates.append((effect, j, prof))
    if not candidates:
        return ChangePoint(None, -1, 0.0, [])
    candidates.sort(key=lambda c: -c[0])
    total = np.zeros(len(valid))
    for effect, _, prof in candidates[:TOP_K]:
        total += np.log1p(effect) * prof / max(prof.max(), 1e-12)
    tau = int(valid[int(np.argmax(total))])
    voters = [tuple(map(str, metrics.columns[j])) for _, j, _ in candidates[:TOP_K]]
    strength = float(max(c[2].max() for c in candidates[:TOP_K]))
    return ChangePoint(float(metrics.index[tau]), tau, strength, voters)  # type: ignore[arg-type]
