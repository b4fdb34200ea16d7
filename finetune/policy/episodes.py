"""Training episodes: random segments of the training traces, a random service, augmented load.

Each episode picks a service uniformly from all eleven, a start minute in a training split, and
applies `traffic.augment` (load level, bursts, flash crowds). Episodes are drawn from a generator seeded
per (run seed, iteration), so a resumed run sees exactly the episodes an uninterrupted one would.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from finetune.policy.env import ScalingEnv
from finetune.policy.features import HISTORY
from finetune.policy.reward import RewardWeights
from finetune.policy.traffic import Trace, augment, entry_scale, split_bounds
from tools.services import service_names


@dataclass(frozen=True)
class EpisodeSource:
    """Training traces (their training splits are used) and the services episodes may control."""

    traces: tuple[Trace, ...]
    services: tuple[str, ...] = field(default_factory=service_names)  # the current topology's
    weights: RewardWeights = RewardWeights()
    augment: bool = True

    def __post_init__(self) -> None:
        if not self.traces:
            raise ValueError("at least one training trace is needed")

    def make(self, rng: np.random.Generator, minutes: int) -> ScalingEnv:
        """A fresh environment with `minutes` minutes to run after the warm-up history."""
        trace = self.traces[int(rng.integers(len(self.traces)))]
        lo, hi = split_bounds(len(trace), "train")
        length = minutes + HISTORY
        if hi - lo <= length:
            raise ValueError(f"training split of {trace.name} is shorter than an episode ({length} minutes)")
        start = int(rng.integers(lo, hi - length))
        service = self.services[int(rng.integers(len(self.services)))]
        load = trace.counts[start : start + length] * entry_scale(trace.counts, service)
        if self.augment:
            load = augment(load, rng)
        return ScalingEnv(load, service, clock0=(trace.clock0 + start) % 1440, seed=int(rng.integers(2**31)),
                          weights=self.weights, warmup=HISTORY)

    def batch(self, seed: int, iteration: int, n: int, minutes: int) -> list[ScalingEnv]:
        rng = np.random.default_rng([seed, iteration])
        return [self.make(rng, minutes) for _ in range(n)]
