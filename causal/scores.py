"""Simple, well-understood anomaly scores per metric, reduced to one value per component and score.

All compare the rows after the onset with the rows before it (the baseline), per metric:
- `nsigma`: the largest |x - mean| / std after the onset (NSigma, two-sided);
- `baro`: the largest |x - median| / IQR after the onset (BARO's robust scaling, two-sided);
- `sustained`: the median |x - median| / IQR after the onset (a level that stays moved, not one spike);
- `shift`: the largest mean shift |mean after - mean before| / noise over the splits near the onset
  (within `SHIFT_REACH` of the window either side), noise being the median absolute step between rows:
  a BARO-style multi-change-point view that tolerates an onset a little off and ignores slow drifts.

`rel_floor` optionally floors every scale at that share of the baseline level. A baseline scale of zero (a
metric constant in normal operation, e.g. availability at 100%, errors at 0.05%) is replaced according to
`zero_scale`: `spread`, the metric's spread over the whole window (a move from a constant gets a moderate
score), or `level`, the relative floor (a move of many times the level is that many floors: an error rate
from 0.05% to 40% dominates, availability from 100% to 99.9% does not), the spread only when the level is 0.
A component's value for a score is its best metric's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

SCORES = ("nsigma", "baro", "sustained", "shift")
ZERO_SCALES = ("spread", "level")
SHIFT_REACH = 0.2  # share of the window the shift split may move away from the onset
MIN_BASELINE = 3


@dataclass
class ScoreTable:
    """Per-metric scores at one onset: rows (component, metric), columns SCORES."""

    onset: float
    split: int  # index of the first row at or after the onset
    per_metric: pd.DataFrame

    def by_component(self, names: tuple[str, ...] = SCORES) -> pd.DataFrame:
        """components x scores: each component's best metric per score."""
        return self.per_metric.loc[:, list(names)].groupby(level=0, sort=False).max()


def split_at(times: np.ndarray, onset: float) -> int:
    """Row index of the first row at or after `onset`, kept so both sides have rows."""
    n = len(times)
    k = int(np.searchsorted(times, onset, side="left"))
    if k < MIN_BASELINE:
        k = min(MIN_BASELINE, max(1, n // 3))
    return max(1, min(k, n - 1))


def _floor(scale: np.ndarray, level: np.ndarray, spread: np.ndarray, rel_floor: float,
           zero_scale: str) -> np.ndarray:
    tiny = 1e-9 + 1e-9 * np.abs(level)
    rel = rel_floor * np.abs(level)
    if zero_scale == "level":
        fallback = np.where(rel > tiny, rel, np.maximum(spread, tiny))
    elif zero_scale == "spread":
        fallback = np.maximum(spread, tiny)
    else:
        raise ValueError(f"zero_scale: got {zero_scale!r}; allowed: {', '.join(ZERO_SCALES)}")
    s = np.where(scale > tiny, scale, fallback)
    return np.maximum(s, rel) if rel_floor > 0 else s


def _shift(x: np.ndarray, split: int) -> np.ndarray:
    n = len(x)
    noise = 1.4826 * np.median(np.abs(np.diff(x, axis=0)), axis=0) / np.sqrt(2.0)
    spread = x.std(axis=0)
    noise = np.where(noise > 1e-9 * (1 + np.abs(x).max(axis=0)), noise, np.maximum(spread, 1e-12))
    reach = max(1, int(round(SHIFT_REACH * n)))
    lo, hi = max(1, split - reach), min(n - 1, split + reach)
    cs = np.cumsum(x, axis=0)
    total = cs[-1]
    best = np.zeros(x.shape[1])
    for k in range(lo, hi + 1):
        left = cs[k - 1] / k
        right = (total - cs[k - 1]) / (n - k)
        best = np.maximum(best, np.abs(right - left))
    return best / noise


def score_table(metrics: pd.DataFrame, onset: float, rel_floor: float = 0.0, zero_scale: str = "spread") -> ScoreTable:
    """Every score of every metric of a prepared table (no gaps, no flat columns) at `onset`."""
    x = metrics.to_numpy(dtype=float)
    split = split_at(metrics.index.to_numpy(dtype=float), onset)
    pre, post = x[:split], x[split:]
    spread = x.std(axis=0)
    mean, std = pre.mean(axis=0), pre.std(axis=0)
    q25, med, q75 = np.percentile(pre, [25, 50, 75], axis=0)
    std_f = _floor(std, mean, spread, rel_floor, zero_scale)
    iqr_f = _floor(q75 - q25, med, spread, rel_floor, zero_scale)
    dev = np.abs(post - med) / iqr_f
    table = pd.DataFrame({
        "nsigma": (np.abs(post - mean) / std_f).max(axis=0),
        "baro": dev.max(axis=0),
        "sustained": np.median(dev, axis=0),
        "shift": _shift(x, split),
    }, index=metrics.columns)
    return ScoreTable(onset=onset, split=split, per_metric=table)
