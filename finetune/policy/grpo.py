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

`reward="counterfactual"` (residual action space only) scores a group member against the HPA itself: from the
group's cloned state the d = 0 continuation (the tuned HPA alone) is rolled over the same `horizon` minutes as
every member, and a member's return is the replica-minutes it saves against that counterfactual, minus
`violation_penalty` replica-minutes per SLO-violation minute it has above the counterfactual's, plus
`violation_credit` per violation minute below it (asymmetric: no more violations than the HPA is the constraint,
fewer replica-minutes the objective). A member's correction is applied for its first `hold` minutes (re-applied to
each minute's HPA decision, as a policy repeating it would), after which the HPA decides alone, so its cost and
violation effects land inside the horizon. Identical first actions share one rollout (keyed by action, not by
replica count, as a held correction can diverge from another that clamps to the same count at first).

`cover=True` makes every action the floor allows appear at least once in each group (the last samples give way to
the actions missing from it; each member keeps its probability under the sampling policy as the old one). Without
it a policy that has concentrated on d = 0 samples groups of d = 0 only, whose advantages are all zero, so it
stops learning where a correction would pay before it has learned to tell those states apart.

`futures > 1` scores every member on several futures from the same state: the recorded load and `futures - 1`
copies whose next minutes are shifted by a random factor (log-sd `future_sigma`, reached over 10 minutes), each
against the HPA on the same future; a member's return is its mean. A standardised advantage keeps only the order of
the members, so with one future an action that saves a little in most states and breaks the SLO in a few is ranked
first in most groups; scored on several futures, its expected violation penalty is part of its return.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from finetune.policy.env import ScalingEnv
from finetune.policy.inference import NumpyPolicy
from finetune.policy.model import MLP
from tools.backends.sim.load import LoadCurve
from tools.backends.sim.model import M

_CPU, _REPLICAS, _P99 = M["cpu"], M["replicas"], M["latency_p99"]
CONTINUATIONS = ("hold", "track", "repeat", "reference", "policy")
REWARDS = ("absolute", "counterfactual")


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
    reward: str = "absolute"  # or "counterfactual": against the HPA's own continuation (see the module docstring)
    hold: int = 1  # counterfactual: minutes a correction is held before the HPA decides alone
    violation_penalty: float = 40.0  # counterfactual: replica-minutes per violation minute above the HPA's
    violation_credit: float = 10.0  # counterfactual: replica-minutes per violation minute below the HPA's
    cover: bool = False  # every allowed action at least once per group (see the module docstring)
    futures: int = 1  # counterfactual: futures each member is scored on (the recorded one, then perturbed ones)
    future_sigma: float = 0.15  # counterfactual: log-sd of a perturbed future's load shift

    def __post_init__(self) -> None:
        if self.futures < 1 or self.future_sigma < 0:
            raise ValueError(f"futures must be >= 1 and future_sigma >= 0; got {self.futures}, {self.future_sigma}")
        if self.reward not in REWARDS:
            raise ValueError(f"reward must be one of {', '.join(REWARDS)}; got {self.reward!r}")
        if not 1 <= self.hold <= self.horizon:
            raise ValueError(f"hold must be in [1, horizon={self.horizon}]; got {self.hold}")
        if self.group_size < 2 or self.horizon < 1:
            raise ValueError(f"group_size must be >= 2 and horizon >= 1; got {self.group_size}, {self.horizon}")

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


def rollout_outcomes(starts: list[ScalingEnv], actions: list[int], horizon: int, hold: int
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Replica-minutes and SLO-violation minutes over `horizon` minutes of each (start state, first action).

    The first action is taken for `hold` minutes (residual: the correction is re-applied to each minute's HPA
    decision), then action 0 (residual: the HPA alone) for the rest.
    """
    clones = [env.clone() for env in starts]
    replica_min = np.zeros(len(clones))
    violation_min = np.zeros(len(clones))
    for m in range(horizon):
        for i, (c, a) in enumerate(zip(clones, actions, strict=True)):
            c.step(a if m < hold else 0)
            row = c.sim.history[-1, c.idx]
            replica_min[i] += row[_REPLICAS]
            violation_min[i] += float(row[_P99] > c.info.slo_ms)
    return replica_min, violation_min


def perturbed(env: ScalingEnv, factors: np.ndarray) -> ScalingEnv:
    """A clone of `env` whose next `len(factors)` minutes of entry load are multiplied by `factors`."""
    c = env.clone()
    rps = c.sim.load.rps.copy()
    m0 = c.sim.minute
    n = max(0, min(len(factors), len(rps) - m0))
    rps[m0 : m0 + n] *= factors[:n]
    c.sim.load = LoadCurve(rps, c.sim.load.description)
    return c


def future_factors(rng: np.random.Generator, horizon: int, sigma: float) -> np.ndarray:
    """A load surprise over `horizon` minutes: a shift of exp(sigma * z), reached linearly over 10 minutes."""
    ramp = np.minimum(np.arange(1, horizon + 1) / 10.0, 1.0)
    return np.exp(sigma * float(rng.standard_normal()) * ramp)


def counterfactual_returns(replica_min: np.ndarray, violation_min: np.ndarray, base_replica_min: float,
                           base_violation_min: float, cfg: GRPOConfig) -> np.ndarray:
    """Replica-minutes saved against the HPA's continuation, violation minutes above it penalised (see the
    module docstring)."""
    extra = violation_min - base_violation_min
    return ((base_replica_min - replica_min) - cfg.violation_penalty * np.maximum(extra, 0.0)
            + cfg.violation_credit * np.maximum(-extra, 0.0))


def group_advantages(returns: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    std = returns.std()
    if std < eps:
        return np.zeros_like(returns)
    return (returns - returns.mean()) / std


RolloutFn = Callable[[list[ScalingEnv], list[int], NumpyPolicy | None, int, str], np.ndarray]


@dataclass
class _Groups:
    """The scored groups of one collection, accumulated into a `GroupBatch`."""

    obs: list[np.ndarray] = field(default_factory=list)
    acts: list[np.ndarray] = field(default_factory=list)
    advs: list[np.ndarray] = field(default_factory=list)
    logps: list[np.ndarray] = field(default_factory=list)
    rets: list[float] = field(default_factory=list)
    masks: list[np.ndarray] = field(default_factory=list)
    steps: int = 0
    uniform: int = 0

    def add(self, x: np.ndarray, allowed: np.ndarray, group: np.ndarray, probs: np.ndarray, r: np.ndarray) -> None:
        """One group: its state, allowed actions, sampled actions, their sampling probabilities and returns."""
        adv = group_advantages(r)
        self.uniform += int(not adv.any())
        self.obs.append(x)
        self.masks.append(allowed)
        self.acts.append(group)
        self.advs.append(adv)
        self.logps.append(np.log(probs[group] + 1e-12))
        self.rets.append(float(r.mean()))

    def advance(self, envs: list[ScalingEnv], groups: list[np.ndarray]) -> None:
        for env, g in zip(envs, groups, strict=True):
            env.step(int(g[0]))  # the episode moves on with a sample of the policy
            self.steps += 1

    def batch(self, return_scale: float = 1.0) -> GroupBatch:
        return GroupBatch(np.stack(self.obs).astype(np.float32), np.stack(self.acts),
                          np.stack(self.advs).astype(np.float32), np.stack(self.logps).astype(np.float32),
                          np.stack(self.masks), float(np.mean(self.rets)) / return_scale, self.steps, self.uniform)


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
    if cfg.reward == "counterfactual":
        if rollout_fn is not None:
            raise ValueError("the counterfactual reward runs its rollouts in-process; drop the rollout function")
        return _collect_counterfactual(envs, policy, rng, cfg)
    rollouts = rollout_fn or rollout_returns
    out = _Groups()
    for _ in range(cfg.decisions_per_env):
        x, allowed, probs, groups = _sample(envs, policy, rng, cfg.group_size)
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
        out.steps += len(starts) * cfg.horizon
        by = dict(zip(owner, returns, strict=True))
        for e, (env, g) in enumerate(zip(envs, groups, strict=True)):
            out.add(x[e], allowed[e], g, probs[e], np.array([by[(e, env.target(int(a)))] for a in g]))
        out.advance(envs, groups)
    return out.batch(cfg.horizon)


def _sample(envs: list[ScalingEnv], policy: NumpyPolicy, rng: np.random.Generator, size: int
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """Observations, allowed actions, the masked sampling distribution and one group of `size` per environment."""
    x = np.stack([e.observe() for e in envs])
    allowed = np.stack([e.action_mask() for e in envs])
    probs = policy.probs(x) * allowed
    probs = probs / probs.sum(axis=1, keepdims=True)
    return x, allowed, probs, [rng.choice(probs.shape[1], size=size, p=p) for p in probs]


def cover_group(group: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """`group` with every allowed action missing from it put in place of its last members."""
    missing = [a for a in np.flatnonzero(allowed) if a not in set(group.tolist())]
    if len(missing) >= len(group):
        raise ValueError(f"a group of {len(group)} cannot hold all {int(allowed.sum())} allowed actions")
    out = group.copy()
    if missing:
        out[len(out) - len(missing):] = missing
    return out


def _collect_counterfactual(envs: list[ScalingEnv], policy: NumpyPolicy, rng: np.random.Generator,
                            cfg: GRPOConfig) -> GroupBatch:
    """`collect` with returns measured against each group's d = 0 continuation (the HPA alone)."""
    out = _Groups()
    for _ in range(cfg.decisions_per_env):
        x, allowed, probs, groups = _sample(envs, policy, rng, cfg.group_size)
        if cfg.cover:
            groups = [cover_group(g, m) for g, m in zip(groups, allowed, strict=True)]
        starts, firsts, owner = [], [], []
        for e, (env, g) in enumerate(zip(envs, groups, strict=True)):
            for f in range(cfg.futures):  # future 0 is the recorded load; the others are perturbed copies of it
                start = env if f == 0 else perturbed(env, future_factors(rng, cfg.horizon, cfg.future_sigma))
                for a in sorted({0, *(int(a) for a in g)}):  # action 0 is the counterfactual, always rolled
                    starts.append(start)
                    firsts.append(a)
                    owner.append((e, f, a))
        rm, vm = rollout_outcomes(starts, firsts, cfg.horizon, cfg.hold)
        out.steps += len(starts) * cfg.horizon
        by = {k: (r, v) for k, r, v in zip(owner, rm, vm, strict=True)}
        for e, g in enumerate(groups):
            r = np.zeros(len(g))
            for f in range(cfg.futures):  # a member's return: its mean over the futures, each against its HPA
                base_r, base_v = by[(e, f, 0)]
                res = np.array([by[(e, f, int(a))] for a in g])
                r += counterfactual_returns(res[:, 0], res[:, 1], base_r, base_v, cfg) / cfg.futures
            out.add(x[e], allowed[e], g, probs[e], r)
        out.advance(envs, groups)
    return out.batch()


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
