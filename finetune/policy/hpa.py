"""Baselines: the Kubernetes HorizontalPodAutoscaler algorithm on CPU utilisation, and a static allocation.

The HPA follows the kube-controller-manager's replica calculator and `normalizeDesiredReplicasWithBehaviors`
with the default behaviour of autoscaling/v2:
  * desired = ceil(current x utilisation / target), skipped while |utilisation / target - 1| <= 0.1;
  * a 15 s sync period;
  * scale-up: no stabilisation, limited per 15 s period to max(+100 %, +4 pods) of the replicas at the
    start of the period (`selectPolicy: Max`);
  * scale-down: 300 s stabilisation window (the highest recommendation of the last 300 s wins; a new
    HPA's window starts with the current count), limited per 15 s period to -100 %;
  * clamped to min/max replicas.

The simulator steps whole minutes, so the control loop runs 4 times per simulated minute (at 0, 15, 30
and 45 s) on the metrics of the last completed minute. Within that minute the CPU in use is held
fixed, so the per-pod utilisation a sync sees is (CPU in use) / (current replicas): a scale-up made at
0 s lowers the utilisation the 15 s sync sees, as it would once the new pods took their share. The
replica count after the 4th sync serves the next minute. Pod start-up delay and the controller's
handling of unready pods are not modelled (the simulator has neither).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

SYNC_S = 15
SYNCS_PER_MINUTE = 60 // SYNC_S
TOLERANCE = 0.1
DOWN_WINDOW_S = 300
UP_WINDOW_S = 0
UP_PERCENT, UP_PODS, DOWN_PERCENT = 100, 4, 100
POLICY_PERIOD_S = 15
DEFAULT_TARGET = 0.8  # `kubectl autoscale` default CPU target
TUNING_GRID = tuple(round(0.3 + 0.05 * k, 2) for k in range(14))  # CPU targets 0.30 .. 0.95 tuned over


@dataclass
class HPA:
    """One HorizontalPodAutoscaler on CPU utilisation (a fraction of the requested CPU)."""

    target: float
    min_replicas: int
    max_replicas: int
    tolerance: float = TOLERANCE
    _recs: list[tuple[float, int]] = field(default_factory=list)  # (time s, unstabilised recommendation)
    _events: list[tuple[float, int]] = field(default_factory=list)  # (time s, replica change)

    def __post_init__(self) -> None:
        if not 0.0 < self.target <= 1.5:
            raise ValueError(f"target utilisation must be in (0, 1.5], got {self.target}")

    def _desired(self, current: int, utilisation: float) -> int:
        ratio = utilisation / self.target
        if abs(ratio - 1.0) <= self.tolerance:
            return current
        return math.ceil(ratio * current)

    def _stabilise(self, now: float, current: int, desired: int) -> int:
        if not self._recs:  # maybeInitScaleDownStabilizationWindow: a new HPA starts from the current count
            self._recs.append((now, current))
        up, down = desired, desired
        for t, rec in self._recs:
            if t > now - UP_WINDOW_S:
                up = min(up, rec)
            if t > now - DOWN_WINDOW_S:
                down = max(down, rec)
        self._recs = [(t, r) for t, r in self._recs if t > now - max(UP_WINDOW_S, DOWN_WINDOW_S)]
        self._recs.append((now, desired))
        return min(max(current, up), down)

    def _changed_in_period(self, now: float) -> tuple[int, int]:
        added = sum(d for t, d in self._events if t > now - POLICY_PERIOD_S and d > 0)
        deleted = sum(-d for t, d in self._events if t > now - POLICY_PERIOD_S and d < 0)
        return added, deleted

    def _rate_limit(self, now: float, current: int, desired: int) -> int:
        added, deleted = self._changed_in_period(now)
        start = current - added + deleted
        if desired > current:
            limit = max(math.ceil(start * (1 + UP_PERCENT / 100)), start + UP_PODS)
            limit = max(limit, current)
            return min(desired, limit, self.max_replicas)
        if desired < current:
            limit = min(int(start * (1 - DOWN_PERCENT / 100)), current)
            return max(desired, limit, self.min_replicas)
        return desired

    def sync(self, now: float, current: int, utilisation: float) -> int:
        """One reconcile at time `now` (s) given the average per-pod utilisation; returns the new count."""
        desired = self._desired(current, utilisation)
        desired = self._stabilise(now, current, desired)
        new = self._rate_limit(now, current, desired)
        new = min(max(new, self.min_replicas), self.max_replicas)
        if new != current:
            self._events.append((now, new - current))
            self._events = [(t, d) for t, d in self._events if t > now - POLICY_PERIOD_S]
        return new

    def clone(self) -> HPA:
        """An independent copy with the same stabilisation window and rate-limit history."""
        return HPA(self.target, self.min_replicas, self.max_replicas, self.tolerance, list(self._recs),
                   list(self._events))

    def minute(self, minute: int, current: int, cpu_in_use: float) -> int:
        """The 4 syncs of one simulated minute; `cpu_in_use` is replicas' worth of CPU used last minute."""
        n = current
        for k in range(SYNCS_PER_MINUTE):
            n = self.sync(minute * 60.0 + k * SYNC_S, n, cpu_in_use / max(n, 1))
        return n


def static_replicas(peak_offered_rps: float, capacity: float, max_replicas: int, utilisation: float = 0.7) -> int:
    """Static peak allocation: the replicas that serve the peak minute at `utilisation`, within the maximum."""
    return int(min(max_replicas, max(1, math.ceil(peak_offered_rps / (capacity * utilisation)))))
