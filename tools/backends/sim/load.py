"""Request-rate curves entering at the frontend: synthetic diurnal or bursty, or a rescaled real trace."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class LoadCurve:
    """Requests per second at the frontend for each simulated minute (wraps around past the end)."""

    rps: np.ndarray = field(repr=False)
    description: str = ""

    def at(self, minute: int) -> float:
        return float(self.rps[minute % len(self.rps)])

    @classmethod
    def diurnal(cls, peak_rps: float = 400.0, days: int = 2, seed: int = 0, start_hour: float = 9.0) -> LoadCurve:
        """Smooth day/night cycle (trough at 35% of peak) with 3% noise; minute 0 is `start_hour` o'clock."""
        rng = np.random.default_rng(seed + 1000)
        t = np.arange(days * 1440) + start_hour * 60
        shape = 0.35 + 0.65 * (0.5 - 0.5 * np.cos(2 * np.pi * (t - 240) / 1440))
        shape = shape / shape.max()
        noise = 1 + 0.03 * rng.standard_normal(len(t))
        return cls(peak_rps * shape * noise, f"diurnal peak {peak_rps:g} rps")

    @classmethod
    def bursty(cls, peak_rps: float = 400.0, days: int = 2, seed: int = 0) -> LoadCurve:
        """A diurnal base at 60% of peak with random bursts up to the peak lasting 5-30 minutes."""
        base = cls.diurnal(peak_rps * 0.6, days, seed).rps.copy()
        rng = np.random.default_rng(seed + 2000)
        n = len(base)
        for _ in range(days * 10):
            start = int(rng.integers(0, n))
            length = int(rng.integers(5, 30))
            base[start : start + length] *= rng.uniform(1.3, 1.66)
        return cls(np.minimum(base, peak_rps), f"bursty peak {peak_rps:g} rps")

    @classmethod
    def constant(cls, rps: float, minutes: int = 1440) -> LoadCurve:
        return cls(np.full(minutes, float(rps)), f"constant {rps:g} rps")

    @classmethod
    def from_counts(cls, counts: np.ndarray, peak_rps: float, offset: int = 0, name: str = "trace") -> LoadCurve:
        """Rescale a per-minute request-count trace so its maximum equals `peak_rps`."""
        counts = np.asarray(counts, dtype=float)[offset:]
        if len(counts) == 0 or not np.isfinite(counts).all() or counts.max() <= 0:
            raise ValueError(f"trace {name!r} has no usable request counts")
        scale = peak_rps / counts.max()
        return cls(counts * scale, f"{name} rescaled x{scale:.4g} to peak {peak_rps:g} rps")
