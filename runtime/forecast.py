"""Load forecasts for scaling: the next few minutes (for decisions) and the next hour (for people).

Both read one per-minute series of demand (replicas' worth of CPU a service needed; oldest first) and
nothing else, so they serve any service and any traffic without being fitted to it.

Short term (`short_term`): quantiles of the peak demand over the next `horizon` minutes, as a multiple of
the current level (the peak demand of the last `LEVEL_WINDOW` minutes, steadier than the last minute alone).
They are read off the service's own recent history: for every past minute t whose outcome is known, the
ratio max(d[t+1 .. t+h]) / level(t); recent minutes weigh more (half-life
`half_life` minutes), so a calmer or burstier spell moves the forecast within the hour. Its recent error
is how the current upper quantile would have fared on the last `RECENT` known outcomes: the share above
it and their mean log excess (a forecast that is too tight shows it at once).

Next hour (`next_hour`): with at least a day and an hour of history, the same hour yesterday rescaled by
how today's last hour compares with yesterday's (a seasonal-naive forecast), with the 90th percentile
from how far the last hours' demand strayed from that forecast; with at least two hours, a level
forecast (recent median; no peak time); with less, no forecast and the reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DAY = 1440
SHORT_TAUS: tuple[float, ...] = (0.5, 0.9, 0.97)
SHORT_HORIZON = 5  # minutes
LEVEL_WINDOW = 5  # minutes: a forecast is relative to the peak demand of the last LEVEL_WINDOW minutes
LOOKBACK = 240  # minutes of history the short-term forecast reads
MIN_SHORT_HISTORY = 30
RECENT = 30
HALF_LIFE = 60.0
NEXT_HOUR = 60
MIN_LEVEL_HISTORY = 120
FLOOR = 0.05  # demand below this (replicas' worth) counts as this, so ratios stay finite


@dataclass(frozen=True)
class ShortForecast:
    """Peak demand over the next `horizon` minutes: `ratios[k]` x `level` is its `taus[k]` quantile."""

    level: float
    horizon: int
    taus: tuple[float, ...]
    ratios: tuple[float, ...]
    recent_exceed: float  # share of the last RECENT outcomes above the upper quantile
    recent_excess: float  # their mean log excess over it (0 when none)
    samples: int

    def demand(self, tau: float) -> float:
        """The peak demand at quantile `tau` (interpolated between the forecast's quantiles)."""
        return self.level * float(np.interp(tau, self.taus, self.ratios))

    @property
    def upper(self) -> float:
        return self.level * self.ratios[-1]


def _weighted_quantiles(values: np.ndarray, weights: np.ndarray, taus: tuple[float, ...]) -> np.ndarray:
    order = np.argsort(values)
    v, w = values[order], weights[order]
    cdf = (np.cumsum(w) - 0.5 * w) / w.sum()
    return np.interp(taus, cdf, v)


def levels(demand: np.ndarray, window: int) -> np.ndarray:
    """The level each forecast is relative to: the peak of the last `window` minutes up to each minute."""
    d = np.maximum(np.asarray(demand, dtype=float), FLOOR)
    if window <= 1:
        return d
    pad = np.concatenate([np.full(window - 1, d[0]), d])
    return np.lib.stride_tricks.sliding_window_view(pad, window).max(axis=1)


def peak_ratios(demand: np.ndarray, horizon: int, level_window: int = 1) -> np.ndarray:
    """For each minute t with a known outcome: max(d[t+1 .. t+horizon]) / level(t) (oldest first)."""
    d = np.maximum(np.asarray(demand, dtype=float), FLOOR)
    if len(d) <= horizon:
        return np.empty(0)
    ahead = np.lib.stride_tricks.sliding_window_view(d[1:], horizon).max(axis=1)
    return ahead / levels(d, level_window)[: len(ahead)]


def short_term(demand: np.ndarray, horizon: int = SHORT_HORIZON, taus: tuple[float, ...] = SHORT_TAUS,
               lookback: int = LOOKBACK, half_life: float = HALF_LIFE, level_window: int = LEVEL_WINDOW
               ) -> ShortForecast | None:
    """Short-term forecast from the last `lookback` minutes of `demand`; None with under MIN_SHORT_HISTORY."""
    d = np.maximum(np.asarray(demand, dtype=float)[-lookback:], FLOOR)
    if len(d) < max(MIN_SHORT_HISTORY, horizon + 2):
        return None
    r = peak_ratios(d, horizon, level_window)
    age = np.arange(len(r))[::-1] + horizon  # minutes between each origin and now
    w = np.exp(-age * math.log(2.0) / half_life)
    q = _weighted_quantiles(r, w, taus)
    q = np.maximum.accumulate(np.maximum(q, 0.0))
    recent = r[-RECENT:]
    over = recent > q[-1]
    excess = float(np.log(recent[over] / q[-1]).mean()) if over.any() else 0.0
    level = float(d[-level_window:].max())
    return ShortForecast(level, horizon, tuple(taus), tuple(float(x) for x in q), float(over.mean()), excess, len(r))


@dataclass(frozen=True)
class HourForecast:
    """Demand over the next hour: its median path's peak, that peak's 90th percentile and when it comes."""

    method: str  # "seasonal" | "level"
    p50_peak: float  # replicas' worth of CPU
    p90_peak: float
    peak_in_min: int | None  # minutes from now to the expected peak (None: no daily history to place it)
    path: np.ndarray  # expected demand per minute of the next hour (p50)

    def ratio_to_now(self, now: float) -> float:
        return self.p50_peak / max(now, FLOOR)


@dataclass(frozen=True)
class NoForecast:
    """Too little history for an hour-ahead forecast, and how much there is."""

    reason: str
    history_min: int


def _smooth(x: np.ndarray, k: int = 5) -> np.ndarray:
    if len(x) < k:
        return x
    return np.convolve(np.pad(x, (k // 2, k - 1 - k // 2), mode="edge"), np.ones(k) / k, mode="valid")


def next_hour(demand: np.ndarray) -> HourForecast | NoForecast:
    """The next hour's demand from the series so far (see the module docstring)."""
    d = np.maximum(np.asarray(demand, dtype=float), FLOOR)
    n = len(d)
    if n >= DAY + NEXT_HOUR:
        yesterday_next = d[n - DAY : n - DAY + NEXT_HOUR]
        yesterday_last = d[n - DAY - NEXT_HOUR : n - DAY]
        scale = float(np.median(d[-NEXT_HOUR:]) / max(float(np.median(yesterday_last)), FLOOR))
        path = _smooth(yesterday_next) * scale
        # how far the demand strayed from the same rule over the last hours (origin every 15 minutes)
        errs = []
        for back in range(NEXT_HOUR, min(6 * NEXT_HOUR, n - DAY - NEXT_HOUR) + 1, 15):
            t = n - back
            s = float(np.median(d[t - NEXT_HOUR : t]) / max(float(np.median(d[t - DAY - NEXT_HOUR : t - DAY])), FLOOR))
            pred = float(_smooth(d[t - DAY : t - DAY + NEXT_HOUR]).max()) * s
            errs.append(float(d[t : t + NEXT_HOUR].max()) / max(pred, FLOOR))
        spread = float(np.quantile(errs, 0.9)) if len(errs) >= 3 else 1.25
        p50 = float(path.max())
        return HourForecast("seasonal", p50, p50 * max(spread, 1.0), int(np.argmax(path)) + 1, path)
    if n >= MIN_LEVEL_HISTORY:
        level = float(np.median(d[-15:]))
        r = peak_ratios(d[-4 * NEXT_HOUR :], NEXT_HOUR)
        p90 = level * max(float(np.quantile(r, 0.9)), 1.0) if len(r) else level * 1.25
        return HourForecast("level", level, p90, None, np.full(NEXT_HOUR, level))
    return NoForecast(f"{n} minutes of history: an hour-ahead forecast needs at least {MIN_LEVEL_HISTORY} "
                      f"(a daily shape, {DAY + NEXT_HOUR})", n)
