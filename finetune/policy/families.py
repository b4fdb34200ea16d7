"""Synthetic traffic families for training and held-out testing of the scaling policy.

Each family draws per-minute request counts (arbitrary units; the episode rescales them like a real trace,
see `traffic.entry_scale`) from random parameters, so every draw is a different member of the family.
Training families: `diurnal`, `weekly`, `ramps`, `flash_crowds` (fast-rise/exponential-decay, plateau,
triangular and double-hump shapes of several sizes), `on_off`, `heavy_tail` (Pareto noise). Held-out
families, never used in training nor in checkpoint selection: `double_peak` (a sharp lunch peak and a broad
evening one), `step_shifts` (abrupt level changes held for minutes to hours) and `mmpp_bursts` (a
three-state Markov-modulated Poisson process: calm, busy, surge). `time_warp` stretches and bends time,
so no daily pattern keeps the clock's period.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

DAY = 1440
Gen = Callable[[int, np.random.Generator], np.ndarray]


def _daily(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A day/night shape in (0, 1]: trough 0.1-0.6, a random peak hour and sharpness, a warped period."""
    period = DAY * rng.uniform(0.8, 1.25)
    trough, sharp = rng.uniform(0.1, 0.6), rng.uniform(0.7, 2.5)
    wave = (0.5 - 0.5 * np.cos(2 * np.pi * (t - rng.uniform(0, period)) / period)) ** sharp
    return trough + (1 - trough) * wave


def _noise(n: int, rng: np.random.Generator, lo: float = 0.02, hi: float = 0.15) -> np.ndarray:
    return np.exp(rng.uniform(lo, hi) * rng.standard_normal(n))


def diurnal(n: int, rng: np.random.Generator) -> np.ndarray:
    return 100 * _daily(np.arange(n), rng) * _noise(n, rng)


def weekly(n: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n)
    weekend = rng.uniform(0.35, 0.85)
    day = (t + rng.integers(0, 7 * DAY)) // DAY % 7
    return 100 * _daily(t, rng) * np.where(day >= 5, weekend, 1.0) * _noise(n, rng)


def ramps(n: int, rng: np.random.Generator) -> np.ndarray:
    knots = [0]
    while knots[-1] < n:
        knots.append(knots[-1] + int(rng.integers(20, 240)))
    levels = np.exp(np.cumsum(rng.uniform(-0.7, 0.7, len(knots))))
    return 100 * np.interp(np.arange(n), knots, levels / levels.max()) * _noise(n, rng)


def _crowd(n: int, start: int, rng: np.random.Generator) -> np.ndarray:
    dt = np.arange(n) - start
    rise = rng.uniform(1, 10)
    shape = str(rng.choice(["decay", "plateau", "triangle", "double"]))
    up = np.clip(dt / rise, 0, 1)
    if shape == "decay":
        s = np.where(dt < rise, up, np.exp(-(dt - rise) / rng.uniform(10, 120)))
    elif shape == "plateau":
        hold = rng.uniform(10, 90)
        s = np.where(dt < rise + hold, up, np.exp(-(dt - rise - hold) / rng.uniform(3, 30)))
    elif shape == "triangle":
        fall = rng.uniform(10, 120)
        s = np.where(dt < rise, up, np.clip(1 - (dt - rise) / fall, 0, 1))
    else:
        gap = rng.uniform(15, 90)
        second = np.where(dt - gap < rise, np.clip((dt - gap) / rise, 0, 1), np.exp(-(dt - gap - rise) / 20))
        s = np.maximum(np.where(dt < rise, up, np.exp(-(dt - rise) / 20)), 0.8 * second)
    return np.where(dt < 0, 0.0, s)


def flash_crowds(n: int, rng: np.random.Generator) -> np.ndarray:
    base = 0.5 + 0.5 * _daily(np.arange(n), rng)
    x = base.copy()
    for _ in range(int(rng.integers(1, 2 + n // 400))):
        x += base * rng.uniform(0.5, 4.0) * _crowd(n, int(rng.integers(0, n)), rng)
    return 100 * x * _noise(n, rng)


def on_off(n: int, rng: np.random.Generator) -> np.ndarray:
    low, x, t, on = rng.uniform(0.05, 0.4), np.empty(n), 0, bool(rng.random() < 0.5)
    while t < n:
        d = int(rng.integers(10, 150))
        x[t : t + d] = 1.0 if on else low
        t, on = t + d, not on
    edge = int(rng.integers(1, 4))
    x = np.convolve(x, np.ones(edge) / edge, mode="same")
    return 100 * x * _noise(n, rng)


def heavy_tail(n: int, rng: np.random.Generator) -> np.ndarray:
    alpha = rng.uniform(1.6, 3.0)
    spikes = np.minimum(rng.pareto(alpha, n) * rng.uniform(0.05, 0.3), 4.0)
    return 100 * _daily(np.arange(n), rng) * (1 + spikes) * _noise(n, rng, 0.02, 0.08)


def double_peak(n: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) % DAY
    lunch, evening = rng.uniform(660, 780), rng.uniform(1140, 1260)
    x = (0.25 + rng.uniform(0.6, 1.0) * np.exp(-0.5 * ((t - lunch) / rng.uniform(20, 45)) ** 2)
         + 0.8 * np.exp(-0.5 * ((t - evening) / rng.uniform(60, 120)) ** 2))
    return 100 * x * _noise(n, rng)


def step_shifts(n: int, rng: np.random.Generator) -> np.ndarray:
    x, t, level = np.empty(n), 0, 1.0
    while t < n:
        d = int(rng.integers(20, 300))
        x[t : t + d] = level
        t, level = t + d, float(np.clip(level * rng.uniform(0.45, 2.2), 0.1, 5.0))
    return 100 * x * _noise(n, rng)


def mmpp_bursts(n: int, rng: np.random.Generator) -> np.ndarray:
    rates = np.array([1.0, rng.uniform(1.6, 2.5), rng.uniform(3.0, 5.0)]) * rng.uniform(20, 60)
    stay = np.array([rng.uniform(0.97, 0.995), rng.uniform(0.9, 0.97), rng.uniform(0.7, 0.9)])
    s, states = 0, np.empty(n, dtype=int)
    for i in range(n):
        states[i] = s
        if rng.random() > stay[s]:
            s = int(rng.choice([k for k in range(3) if k != s], p=[0.8, 0.2] if s == 0 else [0.5, 0.5]))
    return rng.poisson(rates[states]).astype(float)


TRAIN_FAMILIES: dict[str, Gen] = {
    "diurnal": diurnal, "weekly": weekly, "ramps": ramps, "flash_crowds": flash_crowds, "on_off": on_off,
    "heavy_tail": heavy_tail,
}
HELDOUT_FAMILIES: dict[str, Gen] = {"double_peak": double_peak, "step_shifts": step_shifts, "mmpp_bursts": mmpp_bursts}
FAMILIES: dict[str, Gen] = {**TRAIN_FAMILIES, **HELDOUT_FAMILIES}


MAX_SPEED = 1.4


def time_warp(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` minutes of `x` replayed at a random speed (0.7-1.4x) with a slow random bend.

    `x` should hold at least `n` x MAX_SPEED minutes; the replay stops at its end.
    """
    speed = rng.uniform(0.7, MAX_SPEED)
    t = np.arange(n)
    bend = rng.uniform(0, 0.05) * n * np.sin(2 * np.pi * t / n * rng.uniform(0.5, 2.0) + rng.uniform(0, 6.3))
    u = np.maximum.accumulate(np.clip(t * speed + bend - bend[0], 0, len(x) - 1))
    return np.interp(u, np.arange(len(x)), x)


def generate(family: str, minutes: int, seed: int | np.random.Generator) -> np.ndarray:
    """`minutes` per-minute counts of one member of `family` (a generator or a seed picks the member)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown traffic family {family!r}; allowed: {', '.join(FAMILIES)}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng([seed, list(FAMILIES).index(family)])
    return np.maximum(FAMILIES[family](minutes, rng), 0.0)
