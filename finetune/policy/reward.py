"""The scaling reward and each service's p99 SLO.

Per simulated minute, for the controlled service (all terms are penalties, so the reward is <= 0):

    reward = - cost    * replicas / max_replicas                  (cost per replica-minute)
             - idle    * max(0, 0.5 - utilisation)                (utilisation efficiency)
             - latency * min(max(0, p99 / SLO - 1), 4)             (latency above the SLO, graded)
             - slo     * [p99 > SLO]                               (SLO-violation minute)
             - errors  * min(100 * error_rate, 5)                  (failed requests, percent, capped)
             - churn   * [replica count changed this minute]       (scaling action)

Costs are normalised by the service's maximum replica count so one set of weights serves every service.
The defaults price one SLO-violation minute (2 + latency excess) like ~20-25 replica-minutes of a
12-replica service.

The SLO of a service is the p99 the simulator's own model gives it when the service runs at 85 %
utilisation and everything it calls runs at 50 %: a fixed, load-independent latency objective.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass

import numpy as np

from tools.backends.sim.model import Effects, M, step_metrics
from tools.services import current_topology
from tools.topology import Topology

SLO_UTILISATION = 0.85
DEPENDENCY_UTILISATION = 0.5
IDLE_BELOW = 0.5


@dataclass(frozen=True)
class RewardWeights:
    cost: float = 1.0
    idle: float = 0.5
    latency: float = 1.0
    slo: float = 2.0
    errors: float = 1.0
    churn: float = 0.05
    latency_knee: float = 1.0  # latency is penalised from this share of the SLO upwards

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def slo_ms(service: str, topology: Topology | None = None) -> float:
    """The service's p99 objective in ms (see the module docstring), in `topology` (default: the current one)."""
    return _slo_ms(service, topology or current_topology())


@functools.cache
def _slo_ms(service: str, topo: Topology) -> float:
    a = topo.arrays
    i = topo.idx[service]
    entry = 100.0
    util = np.full(len(topo), DEPENDENCY_UTILISATION)
    util[i] = SLO_UTILISATION
    replicas = entry * a.visits / (a.capacity * util)  # fractional replicas put each service at its utilisation
    metrics, _ = step_metrics(topo, entry, replicas, np.zeros(len(topo)), a.base_mem.copy(), Effects.none(len(topo)))
    return float(metrics[i, M["latency_p99"]])


def minute_reward(
    p99_ms: float,
    utilisation: float,
    error_rate: float,
    replicas: float,
    max_replicas: int,
    slo: float,
    acted: bool,
    w: RewardWeights,
) -> float:
    """One minute's reward (scalar version used in rollouts)."""
    ratio = p99_ms / slo
    r = -w.cost * replicas / max_replicas
    r -= w.idle * max(0.0, IDLE_BELOW - utilisation)
    if ratio > w.latency_knee:
        r -= w.latency * min(ratio - w.latency_knee, 4.0)
    if ratio > 1.0:
        r -= w.slo
    r -= w.errors * min(100.0 * error_rate, 5.0)
    if acted:
        r -= w.churn
    return r


def reward_series(
    p99_ms: np.ndarray,
    utilisation: np.ndarray,
    error_rate: np.ndarray,
    replicas: np.ndarray,
    max_replicas: int,
    slo: float,
    w: RewardWeights,
) -> np.ndarray:
    """Per-minute rewards of a whole run (vectorised; actions are counted from replica changes)."""
    ratio = p99_ms / slo
    acted = np.concatenate([[False], np.diff(replicas) != 0])
    r = -w.cost * replicas / max_replicas
    r = r - w.idle * np.maximum(0.0, IDLE_BELOW - utilisation)
    r = r - w.latency * np.clip(ratio - w.latency_knee, 0.0, 4.0) - w.slo * (ratio > 1.0)
    r = r - w.errors * np.minimum(100.0 * error_rate, 5.0)
    return r - w.churn * acted
