"""Onset detection: the single change point shared by the metrics that moved the most.

Each metric is put in robust units: centred on its median and divided by its noise level (the median
absolute step between consecutive rows, which a level shift does not inflate), floored at a fraction of
its level as in `causal.anomaly`, then log-compressed so one enormous metric cannot outvote all others.
For every split of the window the mean-shift statistic tau (n - tau) / n * (mean before - mean after)^2
is computed per metric; the strongest metrics' statistics are summed and the best split is the onset
(the first row after the change).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from causal.anomaly import REL_FLOOR

TOP_K = 10  # metrics whose statistics are summed
MIN_STRENGTH = 1.0  # below this (log-robust units squared, scaled by length) nothing changed


@dataclass(frozen=True)
class ChangePoint:
    onset: float | None  # epoch seconds of the first row after the change; None when nothing changed
    index: int  # row index of that first row (-1 when none)
    strength: float  # the strongest single metric's statistic at the chosen split
    voters: list[tuple[str, str]]


def _min_segment(n: int) -> int:
    return max(2, n // 20)


def robust_units(x: np.ndarray, rel_floor: float = REL_FLOOR) -> np.ndarray:
    """(x - median) / noise, log-compressed; noise = 1.4826 * median |diff| / sqrt(2), floored."""
    med = np.median(x, axis=0)
    noise = 1.4826 * np.median(np.abs(np.diff(x, axis=0)), axis=0) / np.sqrt(2.0)
    tiny = 1e-9 + 1e-6 * np.abs(x).max(axis=0)
    scale = np.maximum(np.maximum(noise, rel_floor * np.abs(med)), tiny)
    u = (x - med) / scale
    return np.sign(u) * np.log1p(np.abs(u))


def shift_profiles(u: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Mean-shift statistic for every split in `valid` (first row after) and every column: [len(valid), p]."""
    n = u.shape[0]
    cs = np.cumsum(u, axis=0)
    total = cs[-1]
    tau = valid[:, None].astype(float)
    left = cs[valid - 1] / tau
    right = (total - cs[valid - 1]) / (n - tau)
    return tau * (n - tau) / n * (left - right) ** 2


def _best(u: np.ndarray, lo: int, hi: int, columns: pd.Index, index: pd.Index) -> ChangePoint | None:
    """The best split of rows [lo, hi) (onset = first row after), or None when the segment is too short."""
    n = hi - lo
    m = _min_segment(n)
    if n < 2 * m + 1:
        return None
    seg = u[lo:hi]
    valid = np.arange(m, n - m + 1)
    prof = shift_profiles(seg - np.median(seg, axis=0), valid)
    best = prof.max(axis=0)
    top = np.argsort(-best)[:TOP_K]
    total = prof[:, top].sum(axis=1)
    k = int(np.argmax(total))
    strength = float(prof[k, top].max())
    if strength < MIN_STRENGTH:
        return None
    tau = lo + int(valid[k])
    voters = [(str(columns[j][0]), str(columns[j][1])) for j in top if prof[k, j] >= MIN_STRENGTH]
    return ChangePoint(float(index[tau]), tau, strength, voters)


def candidates(metrics: pd.DataFrame, rel_floor: float = REL_FLOOR, depth: int = 3) -> list[ChangePoint]:
    """Change points by binary segmentation (the best split, then the best split of each side, `depth`
    levels), strongest first. Several changes can share a window (a load shift, then the fault)."""
    if metrics.shape[1] == 0 or len(metrics) < 5:
        return []
    u = robust_units(metrics.to_numpy(dtype=float), rel_floor)
    out: list[ChangePoint] = []
    segments = [(0, len(metrics))]
    for _ in range(depth):
        nxt = []
        for lo, hi in segments:
            cp = _best(u, lo, hi, metrics.columns, metrics.index)
            if cp is not None:
                out.append(cp)
                nxt += [(lo, cp.index), (cp.index, hi)]
        segments = nxt
    return sorted(out, key=lambda c: -c.strength)


def detect(metrics: pd.DataFrame, rel_floor: float = REL_FLOOR) -> ChangePoint:
    """The most supported single change point of a prepared metrics table (rows in time order)."""
    found = candidates(metrics, rel_floor, depth=1)
    return found[0] if found else ChangePoint(None, -1, 0.0, [])
