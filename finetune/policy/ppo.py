"""PPO with GAE, the learned baseline: same environment, network, warm start and simulator-step budget as GRPO.

Each iteration runs every environment for `rollout` minutes with actions sampled from the policy,
estimates advantages with GAE(gamma, lambda) from a separate value network (bootstrapping at the end of
the segment), and takes clipped-ratio steps on the policy and squared-error steps on the value.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from finetune.policy.env import ScalingEnv
from finetune.policy.model import MLP


@dataclass(frozen=True)
class PPOConfig:
    envs: int = 8
    rollout: int = 64
    gamma: float = 0.95
    lam: float = 0.95
    clip: float = 0.2
    lr: float = 1e-3
    epochs: int = 4
    minibatch: int = 256
    vf_coef: float = 0.5
    entropy_coef: float = 0.01
    reward_scale: float = 0.1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PPOBatch:
    obs: np.ndarray
    actions: np.ndarray
    logp_old: np.ndarray
    advantages: np.ndarray
    returns: np.ndarray
    mean_reward: float
    sim_steps: int


def gae(rewards: np.ndarray, values: np.ndarray, last: np.ndarray, gamma: float, lam: float
        ) -> tuple[np.ndarray, np.ndarray]:
    """Advantages and returns for rewards/values of shape [T, E] with bootstrap values `last` [E]."""
    adv = np.zeros_like(rewards)
    running = np.zeros(rewards.shape[1])
    for t in range(len(rewards) - 1, -1, -1):
        nxt = last if t == len(rewards) - 1 else values[t + 1]
        delta = rewards[t] + gamma * nxt - values[t]
        running = delta + gamma * lam * running
        adv[t] = running
    return adv, adv + values


def collect(envs: list[ScalingEnv], net: MLP, vnet: MLP, rng: np.random.Generator, cfg: PPOConfig) -> PPOBatch:
    obs, acts, logps, rews, vals = [], [], [], [], []
    for _ in range(cfg.rollout):
        x = np.stack([e.observe() for e in envs])
        with torch.no_grad():
            xt = torch.as_tensor(x)
            logp_all = torch.log_softmax(net(xt), -1).numpy()
            v = vnet(xt).squeeze(-1).numpy()
        p = np.exp(logp_all)
        a = np.array([rng.choice(p.shape[1], p=pi / pi.sum()) for pi in p])
        r = np.array([env.step(int(ai)) for env, ai in zip(envs, a, strict=True)]) * cfg.reward_scale
        obs.append(x)
        acts.append(a)
        logps.append(logp_all[np.arange(len(a)), a])
        rews.append(r)
        vals.append(v)
    with torch.no_grad():
        last = vnet(torch.as_tensor(np.stack([e.observe() for e in envs]))).squeeze(-1).numpy()
    rewards, values = np.stack(rews), np.stack(vals)
    adv, ret = gae(rewards, values, last, cfg.gamma, cfg.lam)
    return PPOBatch(np.concatenate(obs).astype(np.float32), np.concatenate(acts),
                    np.concatenate(logps).astype(np.float32), adv.reshape(-1).astype(np.float32),
                    ret.reshape(-1).astype(np.float32), float(rewards.mean() / cfg.reward_scale),
                    cfg.rollout * len(envs))


def update(net: MLP, vnet: MLP, opt: torch.optim.Optimizer, batch: PPOBatch, cfg: PPOConfig,
           gen: torch.Generator) -> dict[str, float]:
    x = torch.as_tensor(batch.obs)
    a = torch.as_tensor(batch.actions, dtype=torch.long)
    logp_old = torch.as_tensor(batch.logp_old)
    adv = torch.as_tensor(batch.advantages)
    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    ret = torch.as_tensor(batch.returns)
    stats: dict[str, float] = {}
    for _ in range(cfg.epochs):
        perm = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), cfg.minibatch):
            b = perm[i : i + cfg.minibatch]
            logp_all = torch.log_softmax(net(x[b]), -1)
            logp = logp_all.gather(1, a[b, None]).squeeze(1)
            ratio = torch.exp(logp - logp_old[b])
            surr = torch.minimum(ratio * adv[b], torch.clamp(ratio, 1 - cfg.clip, 1 + cfg.clip) * adv[b])
            entropy = -(logp_all.exp() * logp_all).sum(-1).mean()
            v_loss = ((vnet(x[b]).squeeze(-1) - ret[b]) ** 2).mean()
            loss = -surr.mean() + cfg.vf_coef * v_loss - cfg.entropy_coef * entropy
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_([*net.parameters(), *vnet.parameters()], 1.0)
            opt.step()
            stats = {"loss": loss.item(), "value_loss": v_loss.item(), "entropy": entropy.item(),
                     "clip_frac": float(((ratio - 1).abs() > cfg.clip).float().mean())}
    return stats
