"""The scaling policy as the `recommend_scaling` tool's advisor: a recommendation for a service (never acts).

On the embedded simulator the features come from its history and the expected effect from a short
look-ahead on a clone (the cluster itself is not touched). On other backends the features come from
`ctx.metrics.series(...)` and the expected effect is an M/M/1 estimate from the observed figures.
The policy decides behind the safety floor it was trained with (`safety`); with too little history for the
short-term forecast (a service keel has watched for under half an hour) the floor is the replicas the last
minutes' peak demand needs, so a saturated service is never advised to stay as it is (for every action space: an
HPA replayed over a few minutes has not caught up with a saturated service either). The result carries the
next-hour forecast (`runtime.forecast.next_hour`: replicas expected to be needed at the 50th and 90th
percentile, when the peak comes and from when more replicas than now are needed), or why there is none.
A residual or capped policy (`action_space`) works on a tuned HPA's decision: here the HPA is rebuilt by replaying
it over the last `HPA_REPLAY_MIN` minutes of metrics (its scale-down window; an HPA anchored on its own decisions
starts from the replica count at the window's start and follows its own decisions), and its decision is reported
beside the policy's. A policy file is loaded once per process; `PolicyAdvisor(path)` may name another file than the
shipped one. The composition root puts a `PolicyAdvisor` into the tool context's deps (`ToolDeps.scaling`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from finetune.policy.action_space import ActionSpace
from finetune.policy.features import ServiceInfo, demand, demand_forecast, observation
from finetune.policy.hpa import DOWN_WINDOW_S, HPA
from finetune.policy.inference import NumpyPolicy, load_policy, policy_space
from finetune.policy.safety import SLO_UTILISATION, SafetyFloor, mask
from runtime.forecast import DAY, NEXT_HOUR, HourForecast, next_hour
from tools.backends.base import ToolContext
from tools.backends.sim.model import METRIC_NAMES, M
from tools.envelope import ToolResult
from tools.results import ScalingRecommendation

DEFAULT_POLICY = Path(__file__).resolve().parents[1] / "artifacts" / "scaling_policy.pt"
LOOKAHEAD_MIN = 5
MAX_RHO = 0.97
READ_MIN = DAY + NEXT_HOUR  # history read: a day and an hour, for the next-hour forecast
HPA_REPLAY_MIN = DOWN_WINDOW_S // 60 + 1
REACTIVE_MIN = 5  # minutes of demand the floor reads while there is too little history to forecast
FLOOR_RULE = "no fewer replicas than the short-term forecast's upper quantile needs at the SLO target"
REACTIVE_RULE = (f"too little history to forecast: no fewer replicas than the peak demand of the last {REACTIVE_MIN} "
                 "minutes needs at the SLO target")


@functools.cache
def _policy(path: Path) -> tuple[NumpyPolicy, dict[str, Any]]:
    return load_policy(path)


def _sim_rows(ctx: ToolContext, service: str) -> tuple[np.ndarray, float, float] | None:
    sim = ctx.sim
    if sim.minute == 0:
        return None
    i = sim.idx[service]
    return sim.history[-READ_MIN:, i].copy(), float(sim.replicas[i]), float(sim.minute % 1440)


def _backend_rows(ctx: ToolContext, service: str) -> tuple[np.ndarray, float, float] | None:
    cols, clock = [], 0.0
    for metric in METRIC_NAMES:
        points = ctx.metrics.series(service, metric, READ_MIN * 60)
        if not points:
            return None
        cols.append([p.value for p in points])
        clock = (points[-1].ts / 60.0) % 1440
    n = min(len(c) for c in cols)
    rows = np.array([c[-n:] for c in cols]).T
    return rows, float(max(rows[-1, M["replicas"]], 1.0)), clock


def _look_ahead(ctx: ToolContext, service: str, replicas: int) -> dict[str, float]:
    """Mean figures of the next LOOKAHEAD_MIN minutes on a clone of the simulator at `replicas`."""
    clone = ctx.sim.clone()
    i = clone.idx[service]
    clone.replicas[i] = replicas
    clone.step(LOOKAHEAD_MIN)
    h = clone.history[-LOOKAHEAD_MIN:, i]
    return {
        "p99_ms": round(float(h[:, M["latency_p99"]].mean()), 1),
        "utilisation": round(float(h[:, M["cpu"]].mean()) / 100.0, 3),
        "error_rate": round(float(h[:, M["error_rate"]].mean()), 5),
        "queue_depth": round(float(h[:, M["queue_depth"]].mean()), 1),
    }


def _estimate(rows: np.ndarray, current: float, replicas: int) -> dict[str, float]:
    """M/M/1 rescaling of the last minute: utilisation x current/new, p99 x (1 - rho) / (1 - rho')."""
    last = rows[-1]
    util = last[M["cpu"]] / 100.0
    new_util = util * current / max(replicas, 1)
    rho, rho_new = min(util, MAX_RHO), min(new_util, MAX_RHO)
    return {
        "p99_ms": round(float(last[M["latency_p99"]] * (1 - rho) / (1 - rho_new)), 1),
        "utilisation": round(float(new_util), 3),
        "error_rate": round(float(last[M["error_rate"]]), 5),
    }


def replayed_hpa_decision(rows: np.ndarray, current: int, space: ActionSpace, info: ServiceInfo) -> int:
    """The residual space's HPA decision now, its state rebuilt from the last `HPA_REPLAY_MIN` minutes of `rows`."""
    assert space.hpa_target is not None
    hpa = HPA(space.hpa_target, info.min_replicas, info.max_replicas)
    tail = rows[-HPA_REPLAY_MIN:]
    in_use = tail[:, M["cpu"]] / 100.0 * np.maximum(tail[:, M["replicas"]], 1.0)
    own = int(max(tail[0, M["replicas"]], 1.0))
    for k in range(len(tail) - 1):
        n = own if space.anchor == "own" else int(max(tail[k, M["replicas"]], 1.0))
        own = hpa.minute(k, n, float(in_use[k]))
    return hpa.minute(len(tail) - 1, own if space.anchor == "own" else current, float(in_use[-1]))


def _clock(minute: float) -> str:
    m = int(round(minute)) % 1440
    return f"{m // 60:02d}:{m % 60:02d}"


def hour_forecast(rows: np.ndarray, current: int, clock: float, info: ServiceInfo) -> dict[str, Any]:
    """The next-hour forecast as replicas (see the module docstring), or the reason there is none."""
    need = demand(rows)
    fc = next_hour(need)
    if not isinstance(fc, HourForecast):
        return {"status": "insufficient_history", "reason": fc.reason, "history_min": fc.history_min}

    def replicas(x: float) -> int:
        return int(min(max(math.ceil(x / SLO_UTILISATION - 1e-9), info.min_replicas), info.max_replicas))

    out: dict[str, Any] = {
        "status": "ok", "method": fc.method, "horizon_min": NEXT_HOUR,
        "p50_replicas": replicas(fc.p50_peak), "p90_replicas": replicas(fc.p90_peak),
        "load_vs_now": round(fc.ratio_to_now(float(np.median(need[-5:]))), 2),
        "sizing": f"replicas serving the forecast peak at {SLO_UTILISATION:.0%} utilisation",
    }
    if fc.peak_in_min is not None:
        out["peak_in_min"] = fc.peak_in_min
        out["peak_at"] = _clock(clock + fc.peak_in_min)
        above = np.flatnonzero(fc.path / SLO_UTILISATION > current)
        out["more_replicas_from"] = _clock(clock + int(above[0]) + 1) if len(above) else None
    else:
        out["note"] = "less than a day of history: the level and its spread, no peak time"
    return out


@dataclass(frozen=True)
class PolicyAdvisor:
    """Recommends replica counts with the policy saved at `path` (default: the shipped one)."""

    path: Path = DEFAULT_POLICY

    def recommend(self, service: str, ctx: ToolContext) -> ToolResult:
        return recommend(self.path, service, ctx)


def recommend(path: Path, service: str, ctx: ToolContext) -> ToolResult:
    """The policy's recommendation for `service` as a recommend_scaling result."""
    try:
        policy, meta = _policy(Path(path))
    except (FileNotFoundError, ValueError) as e:
        return ToolResult.fail(str(e), code="not_configured")
    got = _sim_rows(ctx, service) if ctx.sim is not None else _backend_rows(ctx, service)
    if got is None:
        return ToolResult.empty(f"no metrics for {service} yet; nothing to base a recommendation on")
    rows, current, clock = got
    info = ServiceInfo.of(service, ctx.sim.topology if ctx.sim is not None else None)
    short = demand_forecast(rows)
    cur = int(current)
    space = policy_space(meta)
    hpa_n = replayed_hpa_decision(rows, cur, space, info) if space.hpa_based else None
    targets = space.targets(cur, hpa_n, short, info.min_replicas, info.max_replicas)
    x = observation(rows, current, info, clock, short)
    if hpa_n is not None:
        x = np.concatenate([x, space.inputs(cur, hpa_n, targets, info.max_replicas)])
    probs = policy.probs(x)
    floor_cfg = meta.get("floor")
    safety = SafetyFloor(float(floor_cfg["tau"])) if floor_cfg else None
    floor = safety.replicas(short, info, seen=demand(rows)[-REACTIVE_MIN:]) if safety else None
    if short is not None:  # with a forecast, an HPA-based policy's floor never lifts the HPA (as in training)
        floor = space.floor_for(floor, hpa_n)
    allowed = mask(targets, floor)
    best = int(np.argmax(np.where(allowed, probs, -1.0)))
    rec = int(max(targets[best], floor)) if floor is not None else int(targets[best])
    data: dict[str, Any] = {
        "service": service,
        "current_replicas": cur,
        "recommended_replicas": rec,
        "action": space.names[best],
        "probabilities": {name: round(float(p), 4) for name, p in zip(space.names, probs, strict=True)},
        "slo_p99_ms": round(info.slo_ms, 1),
        "bounds": {"min": info.min_replicas, "max": info.max_replicas},
        "safety_floor": None if not floor_cfg else {
            "replicas": floor, "tau": floor_cfg["tau"], "rule": FLOOR_RULE if short is not None else REACTIVE_RULE},
        "forecast": hour_forecast(rows, cur, clock, info),
    }
    if hpa_n is not None:
        data["hpa_replicas"] = hpa_n
    if ctx.sim is not None:
        data["expected"] = {**_look_ahead(ctx, service, rec), "minutes": LOOKAHEAD_MIN,
                            "method": "simulated look-ahead on a clone of the cluster"}
        data["if_unchanged"] = _look_ahead(ctx, service, cur)
    else:
        data["expected"] = {**_estimate(rows, current, rec), "method": "M/M/1 estimate from the last minute"}
    p99 = data["expected"]["p99_ms"]
    data["expected"]["within_slo"] = bool(p99 <= info.slo_ms) if math.isfinite(p99) else False
    data["policy"] = f"{path.name} ({meta.get('algo', '?')}, {meta.get('iterations', '?')} iterations)"
    data["note"] = "recommendation only: nothing was changed"
    return ToolResult.ok(ScalingRecommendation(**data))
