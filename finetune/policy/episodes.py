"""Training episodes: random segments of the training traces or of synthetic families, a random service, augmented.

Each episode picks a service uniformly from the topology's, then (with probability `family_share`) a
member of a training traffic family (`families.TRAIN_FAMILIES`, two days drawn, a random segment) or a
start minute in a trace's training split; with probability `warp_share` the segment is time-warped
(`families.time_warp`), then rescaled like a trace and `traffic.augment`ed (load level, bursts, flash
crowds). The first `LOOKBACK` minutes only fill the history. Episodes are drawn from a generator seeded
per (run seed, iteration), so a resumed run sees exactly the episodes an uninterrupted one would.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from finetune.policy.env import ScalingEnv
from finetune.policy.families import MAX_SPEED, TRAIN_FAMILIES, generate, time_warp
from finetune.policy.reward import RewardWeights
from finetune.policy.traffic import Trace, augment, entry_scale, split_bounds
from runtime.forecast import LOOKBACK
from tools.services import service_names


@dataclass(frozen=True)
class EpisodeSource:
    """Training traces (their training splits are used) and the services episodes may control."""

    traces: tuple[Trace, ...]
    services: tuple[str, ...] = field(default_factory=service_names)  # the current topology's
    weights: RewardWeights = RewardWeights()
    augment: bool = True
    family_share: float = 0.6
    warp_share: float = 0.5

    def __post_init__(self) -> None:
        if not self.traces and self.family_share < 1.0:
            raise ValueError("at least one training trace is needed (or family_share=1)")

    def make(self, rng: np.random.Generator, minutes: int) -> ScalingEnv:
        """A fresh environment with `minutes` minutes to run after the warm-up history."""
        length = minutes + LOOKBACK
        span = int(length * MAX_SPEED) + 1
        service = self.services[int(rng.integers(len(self.services)))]
        if rng.random() < self.family_share:
            family = list(TRAIN_FAMILIES)[int(rng.integers(len(TRAIN_FAMILIES)))]
            draw = generate(family, max(2 * 1440, span + 1), rng)
            start = int(rng.integers(0, len(draw) - span))
            counts, clock0 = draw, int(rng.integers(1440))
        else:
            trace = self.traces[int(rng.integers(len(self.traces)))]
            lo, hi = split_bounds(len(trace), "train")
            if hi - lo <= span:
                raise ValueError(f"training split of {trace.name} is shorter than an episode ({span} minutes)")
            start = int(rng.integers(lo, hi - span))
            counts, clock0 = trace.counts[:hi], (trace.clock0 + start) % 1440
        segment = counts[start : start + span]
        segment = time_warp(segment, length, rng) if rng.random() < self.warp_share else segment[:length]
        load = segment * entry_scale(counts, service)
        if self.augment:
            load = augment(load, rng)
        return ScalingEnv(load, service, clock0=clock0, seed=int(rng.integers(2**31)), weights=self.weights,
                          warmup=LOOKBACK)

    def batch(self, seed: int, iteration: int, n: int, minutes: int) -> list[ScalingEnv]:
        rng = np.random.default_rng([seed, iteration])
        return [self.make(rng, minutes) for _ in range(n)]
