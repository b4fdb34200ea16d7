"""causal.signature: each kind from synthetic series, and the RCA tool's top signature on seeded simulator
faults (the 50 scenarios of test_rca_tool), plus the window widening for incidents older than the window."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from causal.signature import classify
from tests.causal.test_rca_tool import scenarios, simulate
from tools.backends.sim.cluster import Simulator
from tools.backends.sim.faults import Fault
from tools.backends.sim.load import LoadCurve
from tools.backends.sim_backend import sim_context
from tools.registry import call_tool

N, K = 30, 20  # samples in the window, first post-onset sample


def steady(**changes: tuple[float, float]) -> dict[str, np.ndarray]:
    """A quiet service (cpu 40%, memory 200 MB, p50 10 ms, p99 50 ms, errors 0.1%, 100 rps, 2 replicas); each
    change (before, after) steps a metric at the onset."""
    base = {"cpu": 40.0, "memory": 200.0, "latency_p50": 10.0, "latency_p99": 50.0, "error_rate": 0.001,
            "throughput": 100.0, "replicas": 2.0, "queue_depth": 0.0}
    out = {m: np.full(N, v) for m, v in base.items()}
    for m, (before, after) in changes.items():
        out[m] = np.r_[np.full(K, before), np.full(N - K, after)]
    return out


@pytest.mark.parametrize(("series", "kind", "action"), [
    (steady(throughput=(100, 0), error_rate=(0.001, 1.0), cpu=(40, 2)), "crash", "restart_service"),
    (steady(replicas=(2, 0)), "crash", "restart_service"),
    (steady(memory=(200, 450), cpu=(40, 90)), "memory_leak", "restart_service"),
    (steady(cpu=(40, 92), latency_p99=(50, 400)), "saturation", "scale_service"),
    (steady(cpu=(40, 95), throughput=(100, 260)), "saturation", "scale_service"),
    (steady(error_rate=(0.001, 0.3)), "error_spike", "rollback_deployment"),
    (steady(latency_p50=(10, 300), latency_p99=(50, 500)), "latency", "none"),
    (steady(), "unclear", "none"),
])
def test_kinds_from_synthetic_series(series: dict[str, np.ndarray], kind: str, action: str) -> None:
    sig = classify(series, K)
    assert (sig.kind, sig.action) == (kind, action), sig
    assert sig.because


def test_memory_sawtooth_after_an_oom_restart_is_still_a_leak() -> None:
    mem = np.r_[np.linspace(200, 480, 25), np.full(5, 205.0)]  # climbed, then the OOM kill reset it
    sig = classify({**steady(), "memory": mem}, 10)
    assert sig.kind == "memory_leak"


def test_memory_falling_after_a_restart_is_not_a_leak() -> None:
    assert classify({**steady(), "memory": np.r_[np.full(20, 400.0), np.full(10, 200.0)]}, K).kind == "unclear"


def test_missing_metrics_give_unclear_not_an_error() -> None:
    assert classify({}, 0).kind == "unclear"
    assert classify({"cpu": np.array([np.nan, np.nan])}, 1).kind == "unclear"


TEXTBOOK = {"crash": "restart_service", "memory_leak": "restart_service", "error_burst": "rollback_deployment",
            "cpu_hog": "scale_service", "traffic_spike": "scale_service", "latency_injection": "none"}


def test_top_signature_suggests_the_textbook_write_on_50_seeded_faults() -> None:
    right: Counter[str] = Counter()
    total: Counter[str] = Counter()
    wrong = []
    for s in scenarios():
        result = call_tool("root_cause_analysis", {}, sim_context(simulate(s)))
        total[s.fault] += 1
        top = result.data["ranking"][0] if result.status == "ok" else {}
        sig = top.get("signature") or {}
        if top.get("service") == s.service and sig.get("action") == TEXTBOOK[s.fault]:
            right[s.fault] += 1
        else:
            wrong.append((s.fault, s.service, top.get("service"), sig.get("kind")))
    rate = sum(right.values()) / sum(total.values())
    print(f"\nright service and write: {rate:.2f}; per fault {({f: f'{right[f]}/{total[f]}' for f in total})}")
    for w in wrong:
        print("  wrong:", w)
    assert rate >= 0.8, wrong


def test_incident_older_than_the_window_is_found_by_widening_it() -> None:
    sim = Simulator(LoadCurve.constant(300), [Fault("crash", "paymentservice", 30, 400, 1.0)], seed=2)
    sim.run_until(120)  # the last 30 minutes are all degraded: nothing moves inside them
    result = call_tool("root_cause_analysis", {}, sim_context(sim))
    assert result.status == "ok", result.error
    assert result.data["widened_from"] == "30m" and result.data["window"] in ("2h", "6h")
    assert result.data["ranking"][0]["service"] == "paymentservice"
    assert result.data["ranking"][0]["signature"]["kind"] == "crash"
