"""The scaling environment: one service's replicas controlled on the simulator, the rest provisioned statically.

Load enters at the frontend from a rescaled trace (see `traffic`). The services other than the controlled
one run a static allocation sized for the run's peak at 50 % utilisation, so they never limit it (its
p99 still includes its callees' latency). One step is one simulated minute: the action sets the replica
count for the coming minute (new replicas serve at once; the simulator has no start-up delay), then the
minute is simulated and rewarded (`reward`). `clone()` copies the whole state, so several actions can be
tried from one state under the same future load and the same metric noise.

With a safety floor set (`floor`, see `safety`), every target an action leads to is lifted to the floor
(`target`), and `action_mask` names the actions that land at or above it, so a policy chooses (and GRPO
samples) among safe actions only; rollouts on clones keep the floor, as the deployed controller would.

The action space (`action_space`, set with `set_space`) says what an action index means: a replica change from
now (`relative`, the default), or a correction to (`residual`) or a sizing rule on (`capped`) the decision of a
tuned HPA that the environment runs beside the policy, fed the same metrics once per simulated minute (the HPA's
state is part of a clone).
"""

from __future__ import annotations

import math

import numpy as np

from finetune.policy.action_space import RELATIVE_DELTAS, ActionSpace
from finetune.policy.features import HISTORY, ServiceInfo, demand_forecast, observation
from finetune.policy.hpa import HPA
from finetune.policy.reward import RewardWeights, minute_reward
from finetune.policy.safety import SafetyFloor, mask
from runtime.forecast import LOOKBACK, ShortForecast
from tools.backends.sim.cluster import Simulator
from tools.backends.sim.load import LoadCurve
from tools.backends.sim.model import M
from tools.services import current_topology
from tools.topology import Topology

ACTIONS: tuple[int, ...] = RELATIVE_DELTAS
ACTION_NAMES: tuple[str, ...] = ActionSpace().names
N_ACTIONS = len(ACTIONS)
BACKGROUND_UTILISATION = 0.5
START_UTILISATION = 0.6
_CPU, _P99, _ERR, _REPLICAS = M["cpu"], M["latency_p99"], M["error_rate"], M["replicas"]


def background_replicas(entry_rps: np.ndarray, service: str, topology: Topology | None = None) -> dict[str, int]:
    """Static replica counts for every service but `service`: the run's peak at 50 % utilisation."""
    topo = topology or current_topology()
    a = topo.arrays
    peak = float(np.max(entry_rps))
    out = {}
    for i, s in enumerate(topo.names):
        if s != service:
            need = math.ceil(peak * a.visits[i] / (a.capacity[i] * BACKGROUND_UTILISATION))
            out[s] = max(need, topo.services[i].replicas)
    return out


def clamp(n: float, info: ServiceInfo) -> int:
    return int(min(max(n, info.min_replicas), info.max_replicas))


class ScalingEnv:
    """One controlled service on a Simulator; see the module docstring."""

    def __init__(
        self,
        entry_rps: np.ndarray,
        service: str,
        clock0: int = 0,
        seed: int = 0,
        weights: RewardWeights | None = None,
        warmup: int = HISTORY,
        start_replicas: int | None = None,
        topology: Topology | None = None,
    ) -> None:
        topo = topology or current_topology()
        if service not in topo:
            raise ValueError(f"unknown service {service!r} in topology {topo.name}; allowed: {', '.join(topo.names)}")
        self.service = service
        self.info = ServiceInfo.of(service, topo)
        self.idx = topo.idx[service]
        self.clock0 = clock0
        self.weights = weights or RewardWeights()
        entry_rps = np.asarray(entry_rps, dtype=float)
        replicas = background_replicas(entry_rps, service, topo)
        first = entry_rps[0] * topo.arrays.visits[self.idx] / (self.info.capacity * START_UTILISATION)
        replicas[service] = start_replicas if start_replicas is not None else clamp(math.ceil(first), self.info)
        self.sim = Simulator(LoadCurve(entry_rps, f"{len(entry_rps)} minutes"), seed=seed, replicas=replicas,
                             topology=topo)
        self.horizon = len(entry_rps)
        self.floor: SafetyFloor | None = None
        self._fc: tuple[int, ShortForecast | None] = (-1, None)
        self.space = ActionSpace()
        self.hpa: HPA | None = None
        self._hpa: tuple[int, int] = (-1, 0)  # (minute, the HPA's decision for it)
        self._hpa_own: int | None = None  # anchor "own": the HPA's own replica count
        if warmup:
            self.sim.step(warmup)

    # ------------------------------------------------------------------ state
    @property
    def minute(self) -> int:
        return self.sim.minute

    @property
    def replicas(self) -> int:
        return int(self.sim.replicas[self.idx])

    @property
    def done(self) -> bool:
        return self.sim.minute >= self.horizon

    def clock(self) -> float:
        """Time of day (minutes after midnight) of the next minute to simulate."""
        return float((self.clock0 + self.sim.minute) % 1440)

    def rows(self, n: int = HISTORY) -> np.ndarray:
        """The controlled service's last `n` minutes of metrics [n, 8]."""
        return self.sim.history[-n:, self.idx]

    def forecast(self) -> ShortForecast | None:
        """The short-term demand forecast at the current minute (computed once per minute)."""
        if self._fc[0] != self.sim.minute:
            self._fc = (self.sim.minute, demand_forecast(self.rows(LOOKBACK)))
        return self._fc[1]

    def set_space(self, space: ActionSpace) -> None:
        """Act in `space` from now on; an HPA-based space starts a fresh HPA at its target."""
        self.space = space
        self.hpa = None
        if space.hpa_target is not None:  # residual, capped
            self.hpa = HPA(space.hpa_target, self.info.min_replicas, self.info.max_replicas)
        self._hpa = (-1, 0)
        self._hpa_own = None

    def hpa_decision(self) -> int | None:
        """The HPA-based space's HPA decision for the coming minute (its syncs run once per minute; None otherwise).

        The HPA reads the last minute's CPU in use and the replica count now, as `rollout.HPAController` does
        (anchor "own": its own last decision instead of the replica count now).
        """
        if self.hpa is None:
            return None
        if self._hpa[0] != self.sim.minute:
            row = self.sim.history[-1, self.idx]
            in_use = row[_CPU] / 100.0 * max(row[_REPLICAS], 1.0)
            own = self.space.anchor == "own" and self._hpa_own is not None
            current = self._hpa_own if own else self.replicas
            decision = self.hpa.minute(self.sim.minute, int(current), in_use)  # type: ignore[arg-type]
            self._hpa = (self.sim.minute, decision)
            self._hpa_own = decision
        return self._hpa[1]

    def observe(self) -> np.ndarray:
        x = observation(self.rows(LOOKBACK), float(self.sim.replicas[self.idx]), self.info, self.clock(),
                        self.forecast())
        hpa = self.hpa_decision()
        if hpa is None:
            return x
        return np.concatenate([x, self.space.inputs(self.replicas, hpa, self.raw_targets(), self.info.max_replicas)])

    # ------------------------------------------------------------------ acting
    def floor_replicas(self) -> int | None:
        """The floor the actions are masked against (see `action_space.ActionSpace.floor_for`)."""
        if self.floor is None:
            return None
        return self.space.floor_for(self.floor.replicas(self.forecast(), self.info), self.hpa_decision())

    def raw_targets(self) -> np.ndarray:
        """Replica count every action leads to, clamped to the service's bounds (no floor)."""
        return self.space.targets(self.replicas, self.hpa_decision(), self.forecast(), self.info.min_replicas,
                                  self.info.max_replicas)

    def raw_target(self, action: int) -> int:
        """Replica count an action index leads to, clamped to the service's bounds (no floor)."""
        return int(self.raw_targets()[action])

    def target(self, action: int) -> int:
        """Replica count an action index leads to: clamped to the bounds, lifted to the safety floor if set."""
        n = self.raw_target(action)
        f = self.floor_replicas()
        return max(n, f) if f is not None else n

    def action_mask(self) -> np.ndarray:
        """Actions allowed by the safety floor (all without one)."""
        return mask(self.raw_targets(), self.floor_replicas())

    def run_minute(self, replicas: int) -> float:
        """Set the replica count (clamped) for the next minute, simulate it, return its reward.

        An HPA-based space's HPA is consulted for the minute first, so it sees every minute whoever decided it.
        """
        self.hpa_decision()
        n = clamp(replicas, self.info)
        acted = n != self.replicas
        self.sim.replicas[self.idx] = n
        self.sim.step()
        row = self.sim.history[-1, self.idx]
        return minute_reward(row[_P99], row[_CPU] / 100.0, row[_ERR], n, self.info.max_replicas,
                             self.info.slo_ms, acted, self.weights)

    def step(self, action: int) -> float:
        return self.run_minute(self.target(action))

    def clone(self) -> ScalingEnv:
        c = object.__new__(ScalingEnv)
        c.__dict__.update(self.__dict__)
        c.sim = self.sim.clone()
        c.hpa = self.hpa.clone() if self.hpa is not None else None
        return c
