"""Group Relative Policy Optimization over cloned simulator states.

At each decision state of the training episodes: sample a group of G actions from the current policy;
for every distinct action, clone the simulator, apply it and roll out H minutes under the same future
load and metric noise; the group member's return is the sum of those H rewards. After the first minute
the replica count is held (`hold`), follows the load at the headroom the first action chose (`track`:
replicas = round(first replicas x CPU in use now / CPU in use at the decision)), or follows the current
policy greedily (`policy`). Advantage = (return - group mean) / group std (zero when the group is
uniform). The update is PPO's clipped importance ratio on those advantages plus a KL penalty to a
frozen reference policy; there is no value network. Identical actions in a group share one rollout,
which is exact because a cloned simulator is deterministic.

With a safety floor on the environments (`ScalingEnv.floor`), actions below it are masked before the group
is sampled, and the update's probabilities (new, old and reference) are those of the masked distribution.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from finetune.policy.env import ScalingEnv
from finetune.policy.inference import NumpyPolicy
from finetune.policy.model import MLP
from tools.backends.sim.model import M

_CPU, _REPLICAS = M["cpu"], M["replicas"]


@dataclass(frozen=True)
class GRPOConfig:
    group_size: int = 16
    horizon: int = 30
    clip: float = 0.2
    kl_coef: float = 0.02
    entropy_coef: float = 0.01
    lr: float = 3e-4
    epochs: int = 4
    envs: int = 12
    decisions_per_env: int = 8  # decision states per environment per iteration
    continuation: str = "hold"  # after the first minute: "hold", "track" or "policy" (see the module docstring)
    ref_update_every: int = 0  # iterations between reference-policy refreshes (0: the warm start throughout)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class GroupBatch:
    obs: np.ndarray  # [B, F]
    actions: np.ndarray  # [B, G]
    advantages: np.ndarray  # [B, G]
    logp_old: np.ndarray  # [B, G]
    masks: np.ndarray  # [B, A] actions allowed by the safety floor
    mean_return: float
    sim_steps: int
    uniform_groups: int


CONTINUATIONS = ("hold", "track", "repeat", "reference", "policy")


def _in_use(env: ScalingEnv) -> float:
    row = env.rows(1)[-1]
    return max(float(row[_CPU]) / 100.0 * max(float(row[_REPLICAS]), 1.0), 0.05)


def rollout_returns(
    starts: list[ScalingEnv], actions: list[int], policy: NumpyPolicy | None, horizon: int,
    continuation: str = "hold",
) -> np.ndarray:
    """Return over `horizon` minutes of each (start state, first action); batched over the starts.

    Later minutes follow `continuation` (see the module docstring); `policy` is needed for "policy".
    """
    if continuation not in CONTINUATIONS:
        raise ValueError(f"continuation must be one of {', '.join(CONTINUATIONS)}; got {continuation!r}")
    clones = [env.clone() for env in starts]
    headroom = [c.target(a) / _in_use(c) for c, a in zip(clones, actions, strict=True)]
    ret = np.array([c.step(a) for c, a in zip(clones, actions, strict=True)])
    for _ in range(horizon - 1):
        if continuation == "hold":  # the first action's replica count (floor included) is kept as it is
            ret += np.array([c.run_minute(c.replicas) for c in clones])
            continue
        if continuation == "repeat":  # the first action index again: a residual correction is held
            ret += np.array([c.step(a) for c, a in zip(clones, actions, strict=True)])
            continue
        if continuation == "reference":  # action 0: no change (relative), the HPA's own decision (residual)
            ret += np.array([c.step(0) for c in clones])
            continue
        if continuation == "track":
            ret += np.array([c.run_minute(round(h * _in_use(c))) for c, h in zip(clones, headroom, strict=True)])
            continue
        assert policy is not None, "the policy continuation needs a policy"
        acts = policy.greedy(np.stack([c.observe() for c in clones]))
        ret += np.array([c.step(int(a)) for c, a in zip(clones, np.atleast_1d(acts), strict=True)])
    return ret


def group_advantages(returns: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    std = returns.std()
    if std < eps:
        return np.zeros_like(returns)
    return (returns - returns.mean()) / std


RolloutFn = Callable[[list[ScalingEnv], list[int], NumpyPolicy | None, int, str], np.ndarray]


def collect(
    envs: list[ScalingEnv],
    policy: NumpyPolicy,
    rng: np.random.Generator,
    cfg: GRPOConfig,
    rollout_fn: RolloutFn | None = None,
) -> GroupBatch:
    """`cfg.decisions_per_env` decisions on every environment; each yields one group.

    `rollout_fn` (default: in-process `rollout_returns`) lets the rollouts run elsewhere, e.g. on Ray.
    """
    rollouts = rollout_fn or rollout_returns
    obs, acts, advs, logps, rets, masks = [], [], [], [], [], []
    steps, uniform = 0, 0
    for _ in range(cfg.decisions_per_env):
        x = np.stack([e.observe() for e in envs])
        allowed = np.stack([e.action_mask() for e in envs])
        probs = policy.probs(x) * allowed
        probs = probs / probs.sum(axis=1, keepdims=True)
        groups = [rng.choice(probs.shape[1], size=cfg.group_size, p=p) for p in probs]
        starts, firsts, owner = [], [], []
        for e, (env, g) in enumerate(zip(envs, groups, strict=True)):
            seen: set[int] = set()
            for a in np.unique(g):  # actions clamped to the same replica count share a rollout
                n = env.target(int(a))
                if n not in seen:
                    seen.add(n)
                    starts.append(env)
                    firsts.append(int(a))
                    owner.append((e, n))
        returns = rollouts(starts, firsts, policy if cfg.continuation == "policy" else None, cfg.horizon,
                           cfg.continuation)
        steps += len(starts) * cfg.horizon
        by = dict(zip(owner, returns, strict=True))
        for e, (env, g) in enumerate(zip(envs, groups, strict=True)):
            r = np.array([by[(e, env.target(int(a)))] for a in g])
            adv = group_advantages(r)
            uniform += int(not adv.any())
            obs.append(x[e])
            masks.append(allowed[e])
            acts.append(g)
            advs.append(adv)
            logps.append(np.log(probs[e][g] + 1e-12))
            rets.append(r.mean())
        for env, g in zip(envs, groups, strict=True):
            env.step(int(g[0]))  # the episode moves on with a sample of the policy
            steps += 1
    return GroupBatch(np.stack(obs).astype(np.float32), np.stack(acts), np.stack(advs).astype(np.float32),
                      np.stack(logps).astype(np.float32), np.stack(masks), float(np.mean(rets)) / cfg.horizon, steps,
                      uniform)


def update(net: MLP, ref: MLP, opt: torch.optim.Optimizer, batch: GroupBatch, cfg: GRPOConfig) -> dict[str, float]:
    """Clipped-ratio policy-gradient steps with a KL(policy || reference) penalty."""
    x = torch.as_tensor(batch.obs)
    a = torch.as_tensor(batch.actions, dtype=torch.long)
    adv = torch.as_tensor(batch.advantages)
    logp_old = torch.as_tensor(batch.logp_old)
    blocked = ~torch.as_tensor(batch.masks, dtype=torch.bool)
    with torch.no_grad():
        ref_logp = torch.log_softmax(ref(x).masked_fill(blocked, -1e9), -1)
    stats: dict[str, float] = {}
    for _ in range(cfg.epochs):
        logp_all = torch.log_softmax(net(x).masked_fill(blocked, -1e9), -1)
        logp = logp_all.gather(1, a)
        ratio = torch.exp(logp - logp_old)
        surr = torch.minimum(ratio * adv, torch.clamp(ratio, 1 - cfg.clip, 1 + cfg.clip) * adv)
        p = logp_all.exp()
        kl = (p * (logp_all - ref_logp)).sum(-1).mean()
        entropy = -(p * logp_all).sum(-1).mean()
        loss = -surr.mean() + cfg.kl_coef * kl - cfg.entropy_coef * entropy
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        stats = {
            "loss": loss.item(), "kl_ref": kl.item(), "entropy": entropy.item(),
            "clip_frac": float(((ratio - 1).abs() > cfg.clip).float().mean()),
        }
    return stats
