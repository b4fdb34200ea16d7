"""Timing of one scaling decision, as the controller makes it, against the HPA rule's decision in the same run.

A decision: (a residual policy) the tuned HPA's decision it corrects, the short-term forecast and the features
from the simulator's history, the safety floor's mask, the policy's forward pass and the masked argmax. The
baseline is one HPA reconcile minute (4 syncs) on the same state. Every repeat starts from a fresh minute (the
forecast is recomputed, not cached).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from finetune.policy.env import ScalingEnv
from finetune.policy.hpa import HPA
from finetune.policy.inference import load_policy, policy_space
from finetune.policy.safety import SafetyFloor
from runtime.forecast import LOOKBACK
from tools.backends.sim.load import LoadCurve


def time_decisions(policy_path: Path, repeats: int = 2000, service: str = "frontend") -> dict[str, float]:
    """Median milliseconds of one decision ([residual: the HPA decision] + forecast + features + mask + forward +
    argmax), of its parts (forecast_ms includes a residual policy's HPA decision), and
    of one HPA minute; the ratio of the decision to the HPA's."""
    policy, meta = load_policy(policy_path)
    env = ScalingEnv(LoadCurve.diurnal(peak_rps=600.0).rps, service, warmup=LOOKBACK)
    env.floor = SafetyFloor(float(meta["floor"]["tau"])) if meta.get("floor") else None
    env.set_space(policy_space(meta))
    base_hpa = env.hpa
    hpa = HPA(0.65, env.info.min_replicas, env.info.max_replicas)
    decision, forward, forecast, hpa_ms = [], [], [], []
    for k in range(repeats):
        env._fc = (-1, None)  # a new minute: nothing cached
        if base_hpa is not None:  # the residual HPA decides afresh from the same state every repeat
            env.hpa, env._hpa = base_hpa.clone(), (-1, 0)
        t0 = time.perf_counter()
        env.hpa_decision()
        env.forecast()
        t1 = time.perf_counter()
        x = env.observe()
        allowed = env.action_mask()
        t2 = time.perf_counter()
        env.target(int(policy.greedy(x, allowed)))
        t3 = time.perf_counter()
        hpa.minute(k, env.replicas, 3.0)
        t4 = time.perf_counter()
        decision.append((t3 - t0) * 1000.0)
        forecast.append((t1 - t0) * 1000.0)
        forward.append((t3 - t2) * 1000.0)
        hpa_ms.append((t4 - t3) * 1000.0)
    d, h = statistics.median(decision), statistics.median(hpa_ms)
    return {"decision_ms": d, "forecast_ms": statistics.median(forecast), "forward_ms": statistics.median(forward),
            "hpa_decision_ms": h, "decision_vs_hpa_ratio": d / h if h > 0 else float("inf")}
