"""Timing of one scaling decision: features from the simulator's history plus the policy's forward pass."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from finetune.policy.env import ScalingEnv
from finetune.policy.inference import load_policy
from tools.backends.sim.load import LoadCurve


def time_decisions(policy_path: Path, repeats: int = 2000, service: str = "frontend") -> dict[str, float]:
    """Median milliseconds of one decision (features + forward + argmax) and of the forward pass alone."""
    policy, _ = load_policy(policy_path)
    env = ScalingEnv(LoadCurve.diurnal(peak_rps=600.0).rps, service, warmup=30)
    decision, forward = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        x = env.observe()
        t1 = time.perf_counter()
        int(policy.greedy(x))
        t2 = time.perf_counter()
        decision.append((t2 - t0) * 1000.0)
        forward.append((t2 - t1) * 1000.0)
    return {"decision_ms": statistics.median(decision), "forward_ms": statistics.median(forward)}
