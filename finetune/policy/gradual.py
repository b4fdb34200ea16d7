"""Gradual rollout of a learned scaling policy beside the HPA rule (the incumbent).

Every minute both decide: the HPA (whose own state always advances, as the rule in charge would) and the
policy (in shadow). A `policy_rollout` share says how often the policy's decision is the one proposed
(drawn per decision from a seeded generator). Every `score_every` minutes the shadow decision is scored
on a simulator clone of the current state: the policy from here for `horizon` minutes against the HPA
from here for the same minutes (same load, same metric noise), counting replica-minutes and SLO-violation
minutes. A score counts only once its `horizon` minutes have passed: the clone runs on the load still to come,
which a deployed rollout knows only then (it replays the state it kept against the load that arrived), so the
share never moves on knowledge of the future. The share moves along `steps`:
  * cut to the first step at once when the policy's running record at this share has more violation
    minutes than the HPA's;
  * raised one step after `window` scored decisions at this share with no more violation minutes and
    fewer replica-minutes than the HPA's;
  * otherwise held (a new window starts).
Each proposal yields a record naming the controller that decided (`controller`: "policy" | "hpa") and the
share; `records` keeps them, and `on_record` (e.g. an audit-log append) sees each as it is made.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from finetune.policy.env import ScalingEnv
from finetune.policy.rollout import Controller
from tools.backends.sim.model import M

STEPS: tuple[float, ...] = (0.0, 0.05, 0.1, 0.25, 0.5, 1.0)


@dataclass(frozen=True)
class RolloutConfig:
    steps: tuple[float, ...] = STEPS
    start_step: int = 1  # the share a rollout starts at (index into steps)
    window: int = 12  # scored shadow decisions before a raise is considered
    score_every: int = 5  # minutes between scored shadow decisions
    horizon: int = 30  # minutes each shadow decision is scored over
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.steps or sorted(self.steps) != list(self.steps) or not 0 <= self.start_step < len(self.steps):
            raise ValueError("steps must be increasing shares and start_step an index into them")
        if self.window < 1 or self.score_every < 1 or self.horizon < 1:
            raise ValueError("window, score_every and horizon must be at least 1")


def score(env: ScalingEnv, controller: Controller, horizon: int) -> tuple[float, int]:
    """Replica-minutes and SLO-violation minutes of `controller` over `horizon` minutes on a clone of `env`."""
    c = env.clone()
    ctl = copy.deepcopy(controller)
    rm, viol = 0.0, 0
    for _ in range(min(horizon, c.horizon - c.minute)):
        c.sim.replicas[c.idx] = min(max(ctl.decide(c), c.info.min_replicas), c.info.max_replicas)
        c.sim.step()
        row = c.sim.history[-1, c.idx]
        rm += float(row[M["replicas"]])
        viol += int(row[M["latency_p99"]] > c.info.slo_ms)
    return rm, viol


@dataclass
class GradualRollout:
    """A controller proposing the policy's or the HPA's decision by the current `policy_rollout` share."""

    policy: Controller
    hpa: Controller
    cfg: RolloutConfig = field(default_factory=RolloutConfig)
    on_record: Callable[[dict[str, Any]], None] | None = None
    name: str = "rollout"
    step: int = 0
    records: list[dict[str, Any]] = field(default_factory=list)
    shares: list[tuple[int, float]] = field(default_factory=list)  # (minute, share) at every change
    _window: list[tuple[float, int, float, int]] = field(default_factory=list)
    _pending: list[tuple[int, tuple[float, int, float, int]]] = field(default_factory=list)  # (minute known, score)
    _rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))

    @property
    def share(self) -> float:
        return self.cfg.steps[self.step]

    def reset(self, env: ScalingEnv) -> None:
        self.hpa.reset(env)
        floor = env.floor
        self.policy.reset(env)
        self._policy_floor, env.floor = env.floor, floor
        self.step, self.records, self._window, self._pending = self.cfg.start_step, [], [], []
        self.shares = [(env.minute, self.share)]
        self._rng = np.random.default_rng([self.cfg.seed, 77])

    def _policy_decide(self, env: ScalingEnv) -> int:
        env.floor = self._policy_floor
        try:
            return self.policy.decide(env)
        finally:
            env.floor = None

    def _review(self, env: ScalingEnv) -> str | None:
        pol_rm = sum(w[0] for w in self._window)
        pol_v = sum(w[1] for w in self._window)
        hpa_rm = sum(w[2] for w in self._window)
        hpa_v = sum(w[3] for w in self._window)
        if pol_v > hpa_v:
            self.step, self._window = 0, []
            return "cut"
        if len(self._window) >= self.cfg.window:
            self._window = []
            if pol_rm < hpa_rm and self.step < len(self.cfg.steps) - 1:
                self.step += 1
                return "raised"
            return "held"
        return None

    def decide(self, env: ScalingEnv) -> int:
        shadow: dict[str, Any] | None = None
        if env.minute % self.cfg.score_every == 0:  # scored from the state before either decides
            env.floor = self._policy_floor
            pol_rm, pol_v = score(env, _Shadow(self.policy, self._policy_floor), self.cfg.horizon)
            env.floor = None
            hpa_rm, hpa_v = score(env, self.hpa, self.cfg.horizon)
            self._pending.append((env.minute + self.cfg.horizon, (pol_rm, pol_v, hpa_rm, hpa_v)))
            shadow = {"policy_replica_min": pol_rm, "policy_violation_min": pol_v, "hpa_replica_min": hpa_rm,
                      "hpa_violation_min": hpa_v, "known_at_minute": env.minute + self.cfg.horizon}
        landed: list[dict[str, Any]] = []
        while self._pending and self._pending[0][0] <= env.minute:  # scores whose minutes have passed
            known, sc = self._pending.pop(0)
            self._window.append(sc)
            before = self.share
            change = self._review(env)
            if self.share != before:
                self.shares.append((env.minute, self.share))
            landed.append({"scored_at_minute": known - self.cfg.horizon, "policy_replica_min": sc[0],
                           "policy_violation_min": sc[1], "hpa_replica_min": sc[2], "hpa_violation_min": sc[3],
                           "share_change": change})
        if landed:
            shadow = {**(shadow or {}), "landed": landed}
        hpa_n = self.hpa.decide(env)
        pol_n = self._policy_decide(env)
        use_policy = bool(self._rng.random() < self.share)
        chosen = int(pol_n if use_policy else hpa_n)
        record: dict[str, Any] = {"minute": env.minute, "controller": "policy" if use_policy else "hpa",
                                  "policy_rollout": self.share, "replicas": chosen,
                                  "policy_replicas": pol_n, "hpa_replicas": hpa_n, "shadow": shadow}
        self.records.append(record)
        if self.on_record:
            self.on_record(record)
        return chosen


@dataclass
class _Shadow:
    """The policy as scored on a clone: behind its floor, which the clone's env carries."""

    inner: Controller
    floor: Any
    name: str = "shadow"

    def reset(self, env: ScalingEnv) -> None:
        env.floor = self.floor

    def decide(self, env: ScalingEnv) -> int:
        env.floor = self.floor
        return self.inner.decide(env)
