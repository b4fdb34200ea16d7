"""Shared pieces of the HPA-based action-space tests: a load the HPA scales on, and a policy that always picks one
action."""

from __future__ import annotations

import numpy as np

from runtime.forecast import LOOKBACK


def wavy_load(n: int = 600, seed: int = 0) -> np.ndarray:
    """`n` minutes (after a LOOKBACK warm-up) of a wavy load with a burst every 170 minutes and bounded noise."""
    t = np.arange(n + LOOKBACK)
    rng = np.random.default_rng(seed)
    return 300 + 250 * np.sin(t / 45.0) ** 2 + 120 * (t % 170 > 150) + rng.normal(0, 25, len(t)).clip(-60, 60)


class Always:
    """A stand-in policy that always prefers one action index."""

    def __init__(self, action: int, n: int) -> None:
        self.action, self.n = action, n

    def logits(self, x: np.ndarray) -> np.ndarray:
        z = np.zeros(x.shape[:-1] + (self.n,))
        z[..., self.action] = 1.0
        return z

    def greedy(self, x: np.ndarray, allowed: np.ndarray | None = None) -> int:
        z = self.logits(x)
        if allowed is not None:
            z = np.where(allowed, z, -np.inf)
        return int(z.argmax())
