"""Warm start: behaviour cloning of a proportional target-tracking rule, the reference policy for the KL term.

The rule asks for ceil(demand / 0.6) replicas every minute (`features.demand`: the CPU in use, scaled up
when the service cannot serve what arrives; no tolerance band, no stabilisation) and takes the action
that lands closest to it. Rolling it out with 30 % random actions
covers states off its own path. Cross-entropy on those states gives a sensible starting policy, which
GRPO then improves on the reward while a KL penalty keeps it close (the role of the SFT model in GRPO).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from finetune.policy.env import ACTIONS, N_ACTIONS, ScalingEnv, clamp
from finetune.policy.episodes import EpisodeSource
from finetune.policy.features import demand
from finetune.policy.model import MLP, policy_net

RULE_TARGET = 0.6


def rule_action(env: ScalingEnv, target: float = RULE_TARGET) -> int:
    need = float(demand(env.rows(2))[-1])
    want = clamp(math.ceil(need / target), env.info)
    return min(range(N_ACTIONS), key=lambda a: (abs(env.target(a) - want), abs(ACTIONS[a])))


def collect(source: EpisodeSource, seed: int, episodes: int, minutes: int, explore: float = 0.3
            ) -> tuple[np.ndarray, np.ndarray, int]:
    rng = np.random.default_rng([seed, 10_000])
    xs, ys, steps = [], [], 0
    for env in source.batch(seed, 10**6, episodes, minutes):
        while env.minute < env.horizon:
            xs.append(env.observe())
            a = rule_action(env)
            ys.append(a)
            env.step(int(rng.integers(N_ACTIONS)) if rng.random() < explore else a)
            steps += 1
    return np.stack(xs), np.asarray(ys), steps


def fit(xs: np.ndarray, ys: np.ndarray, seed: int, epochs: int = 30, lr: float = 3e-3, smoothing: float = 0.2
        ) -> tuple[MLP, float]:
    """Train a fresh policy network on (features, rule action); returns it and its training accuracy.

    Label smoothing keeps the warm start stochastic, so GRPO's sampled groups hold different actions.
    """
    torch.manual_seed(seed)
    net = policy_net()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    x, y = torch.as_tensor(xs), torch.as_tensor(ys)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), 256):
            b = perm[i : i + 256]
            loss = nn.functional.cross_entropy(net(x[b]), y[b], label_smoothing=smoothing)
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        acc = float((net(x).argmax(-1) == y).float().mean())
    return net, acc
