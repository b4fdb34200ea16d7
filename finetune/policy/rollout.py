"""Run a controller (learned policy, HPA, static) over a load in the scaling environment and summarise it.

Every controller runs on its own simulator built with the same seed, so all of them see the same load
and the same metric noise. Metrics (the documented names, docs/ARCHITECTURE.md):
  * replica_hours: the controlled service's replicas summed over the scored minutes / 60;
  * slo_violation_min: scored minutes whose p99 exceeded the service's SLO;
  * p99_ms: mean over the scored minutes of the per-minute p99;
  * actions: minutes in which the replica count changed (several HPA syncs in one minute count once).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from finetune.policy.action_space import ActionSpace
from finetune.policy.env import ScalingEnv
from finetune.policy.features import demand
from finetune.policy.hpa import HPA
from finetune.policy.inference import NumpyPolicy
from finetune.policy.reward import RewardWeights, reward_series
from finetune.policy.safety import SafetyFloor
from tools.backends.sim.model import M

_CPU, _P99, _ERR = M["cpu"], M["latency_p99"], M["error_rate"]


class Controller(Protocol):
    name: str

    def reset(self, env: ScalingEnv) -> None: ...

    def decide(self, env: ScalingEnv) -> int: ...


class PolicyController:
    """Greedy decisions of a trained policy, among the actions its safety floor allows (when it has one), in the
    action space it was trained in (`action_space`; residual: corrections to a tuned HPA run beside it)."""

    def __init__(self, name: str, policy: NumpyPolicy, floor: SafetyFloor | None = None,
                 space: ActionSpace | None = None) -> None:
        self.name, self.policy, self.floor = name, policy, floor
        self.space = space or ActionSpace()
        self.use: Counter[str] = Counter()  # minutes each action was chosen (since the last reset)
        self.moved = 0  # minutes whose replica count differs from action 0's (HPA-based spaces: from the HPA's)

    def reset(self, env: ScalingEnv) -> None:
        env.floor = self.floor
        env.set_space(self.space)
        self.use, self.moved = Counter(), 0

    def decide(self, env: ScalingEnv) -> int:
        a = int(self.policy.greedy(env.observe(), env.action_mask()))
        n = env.target(a)
        self.use[self.space.names[a]] += 1
        self.moved += int(n != env.target(0))
        return n


class ForecastController:
    """Sized every minute to the short-term forecast: the fewest replicas serving its `tau` quantile at 85 %.

    The frontier's forecast-sizing rule (`evals.scaling_frontier`) on the runtime forecaster: the safety
    floor alone, with no policy above it. A reference for how far a policy is from forecast sizing.
    """

    def __init__(self, name: str, floor: SafetyFloor) -> None:
        self.name, self.floor = name, floor

    def reset(self, env: ScalingEnv) -> None:
        env.floor = None

    def decide(self, env: ScalingEnv) -> int:
        n = self.floor.replicas(env.forecast(), env.info)
        return env.replicas if n is None else n


class HPAController:
    """The Kubernetes HPA at a CPU target (see `hpa`)."""

    def __init__(self, name: str, target: float) -> None:
        self.name, self.target = name, target
        self.hpa: HPA | None = None

    def reset(self, env: ScalingEnv) -> None:
        self.hpa = HPA(self.target, env.info.min_replicas, env.info.max_replicas)

    def decide(self, env: ScalingEnv) -> int:
        assert self.hpa is not None, "reset() first"
        row = env.sim.history[-1, env.idx]
        in_use = row[_CPU] / 100.0 * max(row[M["replicas"]], 1.0)
        return self.hpa.minute(env.minute, env.replicas, in_use)


class StaticController:
    """A fixed replica count."""

    def __init__(self, name: str, replicas: int) -> None:
        self.name, self.replicas = name, replicas

    def reset(self, env: ScalingEnv) -> None:
        pass

    def decide(self, env: ScalingEnv) -> int:
        return self.replicas


@dataclass
class Run:
    """Per-minute record of one controller over the scored minutes."""

    name: str
    replicas: np.ndarray
    p99_ms: np.ndarray
    utilisation: np.ndarray
    error_rate: np.ndarray
    entry_rps: np.ndarray
    slo_ms: float
    max_replicas: int
    demand: np.ndarray | None = None  # replicas' worth of CPU needed per minute, warm-up minutes first
    warmup: int = 0

    def summary(self, weights: RewardWeights | None = None) -> dict[str, float]:
        prev = np.concatenate([[self.replicas[0]], self.replicas[:-1]])
        rewards = reward_series(self.p99_ms, self.utilisation, self.error_rate, self.replicas,
                                self.max_replicas, self.slo_ms, weights or RewardWeights())
        return {
            "replica_hours": round(float(self.replicas.sum() / 60.0), 3),
            "slo_violation_min": int((self.p99_ms > self.slo_ms).sum()),
            "p99_ms": round(float(self.p99_ms.mean()), 2),
            "actions": int((self.replicas != prev).sum()),
            "error_rate": round(float(self.error_rate.mean()), 6),
            "mean_reward": round(float(rewards.mean()), 5),
        }


def run(
    controller: Controller,
    entry_rps: np.ndarray,
    service: str,
    warmup: int,
    clock0: int = 0,
    seed: int = 0,
    weights: RewardWeights | None = None,
) -> Run:
    """Simulate `entry_rps` (its first `warmup` minutes only fill the history) under `controller`."""
    env = ScalingEnv(entry_rps, service, clock0=clock0, seed=seed, weights=weights, warmup=warmup)
    controller.reset(env)
    n = len(entry_rps) - warmup
    idx = env.idx
    for _ in range(n):
        env.sim.replicas[idx] = min(max(controller.decide(env), env.info.min_replicas), env.info.max_replicas)
        env.sim.step()
    hist = env.sim.history[warmup:, idx]
    return Run(controller.name, hist[:, M["replicas"]].copy(), hist[:, _P99].copy(), hist[:, _CPU] / 100.0,
               hist[:, _ERR].copy(), np.asarray(entry_rps[warmup:], dtype=float), env.info.slo_ms,
               env.info.max_replicas, demand(env.sim.history[:, idx]), warmup)
