"""recommend_scaling: the trained scaling policy's recommendation for a service (never acts).

On the embedded simulator the features come from its history and the expected effect from a short
look-ahead on a clone (the cluster itself is not touched). On other backends the features come from
`ctx.metrics.series(...)` and the expected effect is an M/M/1 estimate from the observed figures.
The policy file is loaded once per process (`ctx.extras["scaling_policy"]` may name another file).
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any

import numpy as np

from finetune.policy.env import ACTION_NAMES, ACTIONS
from finetune.policy.features import HISTORY, ServiceInfo, features
from finetune.policy.inference import NumpyPolicy, load_policy
from tools.backends.base import ToolContext
from tools.backends.sim.model import METRIC_NAMES, M
from tools.contract import RecommendScalingArgs
from tools.envelope import ToolResult

DEFAULT_POLICY = Path(__file__).resolve().parents[1] / "finetune" / "artifacts" / "scaling_policy.pt"
LOOKAHEAD_MIN = 5
MAX_RHO = 0.97


@functools.cache
def _policy(path: Path) -> tuple[NumpyPolicy, dict[str, Any]]:
    return load_policy(path)


def _sim_rows(ctx: ToolContext, service: str) -> tuple[np.ndarray, float, float] | None:
    sim = ctx.sim
    if sim.minute == 0:
        return None
    i = sim.idx[service]
    return sim.history[-HISTORY:, i].copy(), float(sim.replicas[i]), float(sim.minute % 1440)


def _backend_rows(ctx: ToolContext, service: str) -> tuple[np.ndarray, float, float] | None:
    cols, clock = [], 0.0
    for metric in METRIC_NAMES:
        points = ctx.metrics.series(service, metric, HISTORY * 60)
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


def recommend_scaling(args: RecommendScalingArgs, ctx: ToolContext) -> ToolResult:
    path = Path(ctx.extras.get("scaling_policy", DEFAULT_POLICY))
    try:
        policy, meta = _policy(path)
    except (FileNotFoundError, ValueError) as e:
        return ToolResult.fail(str(e))
    service = args.service
    got = _sim_rows(ctx, service) if ctx.sim is not None else _backend_rows(ctx, service)
    if got is None:
        return ToolResult.empty(f"no metrics for {service} yet; nothing to base a recommendation on")
    rows, current, clock = got
    info = ServiceInfo.of(service, ctx.sim.topology if ctx.sim is not None else None)
    probs = policy.probs(features(rows, current, info, clock))
    best = int(np.argmax(probs))
    cur = int(current)
    rec = int(min(max(cur + ACTIONS[best], info.min_replicas), info.max_replicas))
    data: dict[str, Any] = {
        "service": service,
        "current_replicas": cur,
        "recommended_replicas": rec,
        "action": ACTION_NAMES[best],
        "probabilities": {name: round(float(p), 4) for name, p in zip(ACTION_NAMES, probs, strict=True)},
        "slo_p99_ms": round(info.slo_ms, 1),
        "bounds": {"min": info.min_replicas, "max": info.max_replicas},
    }
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
    return ToolResult.ok(data)
