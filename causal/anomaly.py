"""Robust per-metric anomaly scores: how far each metric moved after the onset, in robust units.

For every metric the rows before the onset are the baseline. Its median is the reference level and its
scale is the interquartile range, floored at a fraction of the median's magnitude (`rel_floor`) so that
nearly constant metrics (memory, bucketed latencies) do not turn tiny drifts into huge scores. The score
is the sustained shift: the median absolute robust z over the rows after the onset, and a peak score
(the largest |z|) is kept as evidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

REL_FLOOR = 0.1  # scale >= 10% of the baseline level
MIN_BASELINE = 3  # rows needed before the onset


@dataclass(frozen=True)
class MetricScore:
    component: str
    metric: str
    score: float  # sustained |z|
    peak: float  # max |z|
    baseline: float  # median before the onset
    current: float  # median after the onset
    direction: int  # +1 rose, -1 fell, 0 flat


@dataclass
class Scores:
    """Per-metric scores of one case at one onset, plus the robust z table used downstream."""

    onset: float
    metrics: list[MetricScore]
    z: pd.DataFrame  # robust z of every row (all times), columns (component, metric)

    def table(self) -> pd.Series:
        return pd.Series({(m.component, m.metric): m.score for m in self.metrics}, dtype=float)

    def by_component(self) -> dict[str, list[MetricScore]]:
        out: dict[str, list[MetricScore]] = {}
        for m in self.metrics:
            out.setdefault(m.component, []).append(m)
        for v in out.values():
            v.sort(key=lambda s: -s.score)
        return out

    def top(self, k: int) -> list[MetricScore]:
        return sorted(self.metrics, key=lambda s: -s.score)[:k]


def prepare(metrics: pd.DataFrame) -> pd.DataFrame:
    """Fill gaps along time and drop columns with no data or a single value throughout."""
    m = metrics.apply(pd.to_numeric, errors="coerce").astype(float)
    m = m.replace([np.inf, -np.inf], np.nan).ffill().bfill()
    keep = m.notna().all() & (m.nunique() > 1)
    return m.loc[:, keep]


def robust_scale(baseline: np.ndarray, rel_floor: float = REL_FLOOR) -> tuple[np.ndarray, np.ndarray]:
    """(median, scale) per column: scale = max(IQR, rel_floor * |median|, a tiny absolute epsilon)."""
    q25, med, q75 = np.percentile(baseline, [25, 50, 75], axis=0)
    tiny = 1e-9 + 1e-6 * np.abs(baseline).max(axis=0)
    scale = np.maximum(np.maximum(q75 - q25, rel_floor * np.abs(med)), tiny)
    return med, scale


def score(metrics: pd.DataFrame, onset: float, rel_floor: float = REL_FLOOR) -> Scores:
    """Score every metric of a prepared table against the baseline before `onset`."""
    x = metrics.to_numpy(dtype=float)
    t = metrics.index.to_numpy(dtype=float)
    split = int(np.searchsorted(t, onset, side="left"))  # first row at or after the onset
    if split < MIN_BASELINE:
        # too little history before the onset: use the first rows as the baseline
        split = min(MIN_BASELINE, max(1, len(x) // 3))
    split = min(split, len(x) - 1)  # keep at least one row after the onset
    pre, post = x[:split], x[split:]
    med, scale = robust_scale(pre, rel_floor)
    z = (x - med) / scale
    zpost = np.abs(z[split:])
    sustained = np.median(zpost, axis=0)
    peak = zpost.max(axis=0)
    cur = np.median(post, axis=0)
    out = []
    for j, col in enumerate(metrics.columns):
        delta = float(cur[j] - med[j])
        out.append(MetricScore(
            component=str(col[0]), metric=str(col[1]),
            score=float(sustained[j]), peak=float(peak[j]),
            baseline=float(med[j]), current=float(cur[j]),
            direction=int(np.sign(delta)) if abs(delta) > 0 else 0,
        ))
    return Scores(onset=onset, metrics=out, z=pd.DataFrame(z, index=metrics.index, columns=metrics.columns))


def component_scores(scores: Scores, service_of: dict[str, str] | None = None) -> dict[str, float]:
    """The anomaly of each component (or service when `service_of` is given): its largest metric score."""
    out: dict[str, float] = {}
    for m in scores.metrics:
        key = (service_of or {}).get(m.component, m.component)
        out[key] = max(out.get(key, 0.0), m.score)
    return out
