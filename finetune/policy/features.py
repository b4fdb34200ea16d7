"""The policy's observation: normalised, service-agnostic features from a service's last minutes of metrics.

Everything is relative to the service (utilisation, p99 / SLO, load as a share of capacity at maximum
replicas, replicas as a share of the maximum), so one policy serves every service. CPU trends are
trends of the CPU in use summed over replicas (utilisation x replicas), so a scaling action is not
mistaken for a change of load; `load_volatility` is the standard deviation of its minute-to-minute log
changes over the history, which tells the policy how much headroom the noise of this traffic needs;
the peak and mean utilisation features re-express the recent CPU in use as utilisation of the current
replica count (what the last minutes' load would do to the replicas about to serve). The hour-long
features (load against its hour mean, the hour's peak as utilisation, the largest one-minute rise and the
volatility over the hour) describe how bursty the traffic has been, so the headroom can follow it.

Demand: CPU in use stops at the replicas' capacity, so a saturated service hides how much load it is
refusing. Demand per minute is the CPU in use scaled by requests arriving over requests served (see
`demand`); `demand_utilisation` is it over the replicas about to serve, so a policy can size a saturated
service in one step. The hour-ago features compare the demand of the minute one hour before the coming
one with now and with the minutes that followed it, so load that recurs every hour (or every 30, 20, 15
minutes: periods dividing the hour), such as scheduled jobs, can be met before it arrives. All of them
are observed history: nothing looks at future load.

Forecast features (`FORECAST_FEATURES`, appended after `FEATURES` in `POLICY_FEATURES`): the short-term
forecast of `runtime.forecast` on the demand of the last `LOOKBACK` minutes (the peak demand over the next
5 minutes at its 50th, 90th and 97th percentiles as utilisation of the replicas about to serve) and its
recent error (share of recent outcomes above its upper quantile and their mean log excess).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from finetune.policy.reward import slo_ms
from runtime.forecast import LOOKBACK, ShortForecast, short_term
from tools.backends.sim.model import METRIC_NAMES, M
from tools.services import current_topology
from tools.topology import Topology

HISTORY = 60  # minutes of metrics a decision looks at
SHORT = 20  # the window of the short-term features
FEATURES: tuple[str, ...] = (
    "utilisation", "p99_over_slo", "p50_over_slo", "error_rate_x10", "load_share_of_max", "replicas_share_of_max",
    "replicas_div10", "cpu_in_use_div10", "queue_share_of_limit", "memory_share_of_limit", "tod_sin", "tod_cos",
    "cpu_trend_1m", "cpu_trend_5m", "p99_trend_1m", "p99_trend_5m", "replicas_above_min_share", "at_max",
    "load_volatility", "cpu_trend_10m", "peak_utilisation_5m", "peak_utilisation_10m", "mean_utilisation_10m",
    "peak_utilisation_20m", "load_vs_mean_60m", "peak_utilisation_60m", "max_rise_60m", "load_volatility_60m",
    "demand_utilisation", "peak_demand_utilisation_5m", "hour_ago_vs_now", "hour_ago_step",
)
FORECAST_FEATURES: tuple[str, ...] = (
    "fc_p50_peak_utilisation", "fc_p90_peak_utilisation", "fc_p97_peak_utilisation", "fc_recent_exceed",
    "fc_recent_log_excess",
)
POLICY_FEATURES = FEATURES + FORECAST_FEATURES
N_FEATURES = len(POLICY_FEATURES)
N_BASE_FEATURES = len(FEATURES)
_CPU, _MEM, _P50, _P99 = M["cpu"], M["memory"], M["latency_p50"], M["latency_p99"]
_ERR, _THR, _Q, _REPLICAS = M["error_rate"], M["throughput"], M["queue_depth"], M["replicas"]
SATURATED_CPU = 95.0
MAX_DEMAND_RATIO = 10.0
assert len(METRIC_NAMES) == 8


@dataclass(frozen=True)
class ServiceInfo:
    """Constants of the controlled service that the features and reward need."""

    service: str
    capacity: float
    min_replicas: int
    max_replicas: int
    memory_limit: float
    slo_ms: float

    @classmethod
    def of(cls, service: str, topology: Topology | None = None) -> ServiceInfo:
        """The constants of `service` in `topology` (default: the current one)."""
        topo = topology or current_topology()
        s = topo.spec(service)
        return cls(service, s.capacity_rps, s.min_replicas, s.max_replicas, s.memory_limit_mb, slo_ms(service, topo))


def demand(rows: np.ndarray) -> np.ndarray:
    """CPU needed per minute, in replicas' worth: CPU in use x (requests arriving / requests served).

    Arriving = served + queue growth, grossed up by the error rate while the service is saturated (CPU at 95 %
    or more), when its errors are its own dropped requests. Below saturation it is the CPU in use, whatever
    each request costs (a CPU hog raises it too). One value per row of `rows` (oldest first).
    """
    queue = rows[:, _Q]
    growth = np.maximum(np.diff(queue, prepend=queue[:1]) / 60.0, 0.0)
    served = rows[:, _THR]
    dropped = np.where(rows[:, _CPU] >= SATURATED_CPU, np.minimum(rows[:, _ERR], 0.9), 0.0)
    arriving = (served + growth) / (1.0 - dropped)
    ratio = np.divide(arriving, served, out=np.ones_like(served), where=served > 1e-6)
    in_use = rows[:, _CPU] / 100.0 * np.maximum(rows[:, _REPLICAS], 1.0)
    return in_use * np.clip(ratio, 1.0, MAX_DEMAND_RATIO)


def features(rows: np.ndarray, replicas: float, info: ServiceInfo, clock_minute: float) -> np.ndarray:
    """Feature vector from `rows` [minutes, 8 metrics] (oldest first, at least one) for the next decision.

    `replicas` is the current replica count (it may differ from the last row after an action);
    `clock_minute` is the time of day in minutes after midnight.
    """
    if len(rows) < HISTORY:
        rows = np.concatenate([np.repeat(rows[:1], HISTORY - len(rows), axis=0), rows])
    last = rows[-1]
    r_obs = np.maximum(rows[:, M["replicas"]], 1.0)
    util = rows[:, _CPU] / 100.0
    in_use = util * r_obs  # replicas' worth of CPU in use
    ratio = rows[:, _P99] / info.slo_ms
    prev5_use = max(float(in_use[-6:-1].mean()), 0.05)
    prev10_use = max(float(in_use[-11:-1].mean()), 0.05)
    log_use = np.log(np.maximum(in_use, 0.05))
    prev1_use = max(float(in_use[-2]), 0.05)
    cap_now = max(replicas, 1.0) * info.capacity
    angle = 2.0 * math.pi * (clock_minute % 1440.0) / 1440.0
    x = np.empty(N_BASE_FEATURES, dtype=np.float32)
    x[0] = min(util[-1], 1.5)
    x[1] = min(ratio[-1], 5.0)
    x[2] = min(last[_P50] / info.slo_ms, 5.0)
    x[3] = min(10.0 * last[_ERR], 1.0)
    x[4] = min(last[_THR] / (info.max_replicas * info.capacity), 2.0)
    x[5] = replicas / info.max_replicas
    x[6] = replicas / 10.0
    x[7] = in_use[-1] / 10.0
    x[8] = min(last[_Q] / (cap_now * 2.0), 1.0)
    x[9] = last[_MEM] / info.memory_limit
    x[10] = math.sin(angle)
    x[11] = math.cos(angle)
    x[12] = min(max(in_use[-1] / prev1_use - 1.0, -1.0), 2.0)
    x[13] = min(max(in_use[-1] / prev5_use - 1.0, -1.0), 2.0)
    x[14] = min(max(ratio[-1] - ratio[-2], -2.0), 2.0)
    x[15] = min(max(ratio[-1] - float(ratio[-6:-1].mean()), -2.0), 2.0)
    x[16] = (replicas - info.min_replicas) / info.max_replicas
    x[17] = 1.0 if replicas >= info.max_replicas else 0.0
    x[18] = min(float(np.diff(log_use[-SHORT:]).std()), 1.0)
    x[19] = min(max(in_use[-1] / prev10_use - 1.0, -1.0), 2.0)
    r_now = max(replicas, 1.0)  # the recent load as utilisation of the replicas about to serve
    x[20] = min(float(in_use[-5:].max()) / r_now, 3.0)
    x[21] = min(float(in_use[-10:].max()) / r_now, 3.0)
    x[22] = min(float(in_use[-10:].mean()) / r_now, 3.0)
    x[23] = min(float(in_use[-SHORT:].max()) / r_now, 3.0)
    steps = np.diff(log_use)
    x[24] = min(max(float(log_use[-1] - np.log(max(float(in_use.mean()), 0.05))), -2.0), 2.0)
    x[25] = min(float(in_use.max()) / r_now, 3.0)
    x[26] = min(max(float(steps.max()), 0.0), 2.0)
    x[27] = min(float(steps.std()), 1.0)
    need = demand(rows)
    log_need = np.log(np.maximum(need, 0.05))
    x[28] = min(float(need[-1]) / r_now, 5.0)
    x[29] = min(float(need[-5:].max()) / r_now, 5.0)
    x[30] = min(max(float(log_need[0] - log_need[-1]), -2.0), 2.0)  # rows[0] is the coming minute, an hour ago
    x[31] = min(max(float(log_need[0] - log_need[1:4].mean()), -2.0), 2.0)
    return x


def demand_forecast(rows: np.ndarray) -> ShortForecast | None:
    """The short-term forecast of the demand in `rows` (oldest first; up to `LOOKBACK` are read)."""
    return short_term(demand(rows[-LOOKBACK:]))


def forecast_features(fc: ShortForecast | None, replicas: float) -> np.ndarray:
    """The forecast's quantiles as utilisation of `replicas`, and its recent error (zeros without a forecast)."""
    x = np.zeros(len(FORECAST_FEATURES), dtype=np.float32)
    if fc is None:
        return x
    r_now = max(replicas, 1.0)
    for k, ratio in enumerate(fc.ratios[:3]):
        x[k] = min(fc.level * ratio / r_now, 5.0)
    x[3] = fc.recent_exceed
    x[4] = min(fc.recent_excess, 2.0)
    return x


def observation(rows: np.ndarray, replicas: float, info: ServiceInfo, clock_minute: float,
                fc: ShortForecast | None) -> np.ndarray:
    """The policy's full input (`POLICY_FEATURES`): `features` of the last HISTORY rows plus the forecast's."""
    return np.concatenate([features(rows[-HISTORY:], replicas, info, clock_minute), forecast_features(fc, replicas)])
