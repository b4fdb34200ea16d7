"""The simulated cluster: queueing, propagation, fault signatures, fixes, determinism, clone()."""

from __future__ import annotations

import numpy as np
import pytest

from tests.shop import IDX
from tools.backends.sim import logs as sim_logs
from tools.backends.sim.cluster import Simulator
from tools.backends.sim.faults import FAULT_TYPES, Fault
from tools.backends.sim.load import LoadCurve
from tools.backends.sim.model import M


def run(faults: list[Fault] | None = None, minutes: int = 40, rps: float = 400.0, seed: int = 1) -> Simulator:
    sim = Simulator(LoadCurve.constant(rps), faults or [], seed=seed)
    sim.step(minutes)
    return sim


def mean(sim: Simulator, service: str, metric: str, lo: int, hi: int) -> float:
    return float(sim.history[lo:hi, IDX[service], M[metric]].mean())


def test_latency_rises_steeply_with_utilisation() -> None:
    p99 = [mean(run(minutes=10, rps=r), "productcatalogservice", "latency_p99", 2, 10) for r in (100, 300, 500, 600)]
    assert p99 == sorted(p99)
    # the last 100 rps near saturation cost more than the first 200
    assert p99[3] - p99[2] > 2 * (p99[1] - p99[0])


def test_overload_builds_queue_and_errors() -> None:
    sim = run(minutes=10, rps=900)
    assert mean(sim, "frontend", "queue_depth", 5, 10) > 0
    assert mean(sim, "frontend", "error_rate", 5, 10) > 0.05


def test_slow_leaf_slows_callers() -> None:
    base = run()
    slow = run([Fault("latency_injection", "paymentservice", 20, 60, 0.8)])
    for svc in ("paymentservice", "checkoutservice", "frontend"):
        assert mean(slow, svc, "latency_p99", 25, 40) > mean(base, svc, "latency_p99", 25, 40) * 1.2, svc
    # services that do not call payment are unaffected
    unaffected = mean(base, "adservice", "latency_p99", 25, 40)
    assert mean(slow, "adservice", "latency_p99", 25, 40) == pytest.approx(unaffected, rel=0.1)


def test_error_in_leaf_propagates_to_callers() -> None:
    sim = run([Fault("crash", "redis-cart", 10, 60, 1.0)])
    assert mean(sim, "redis-cart", "error_rate", 15, 40) == pytest.approx(1.0)
    assert mean(sim, "cartservice", "error_rate", 15, 40) > 0.9
    assert mean(sim, "frontend", "error_rate", 15, 40) > 0.2


SIGNATURES = {
    "cpu_hog": ("currencyservice", "cpu", "CPU throttling"),
    "memory_leak": ("cartservice", "memory", "OOMKilled"),
    "latency_injection": ("shippingservice", "latency_p99", "slow request"),
    "error_burst": ("paymentservice", "error_rate", "500"),
    "crash": ("emailservice", "error_rate", "CrashLoopBackOff"),
    "traffic_spike": ("recommendationservice", "throughput", "above normal"),
}


@pytest.mark.parametrize("fault", sorted(FAULT_TYPES))
def test_each_fault_has_its_signature_in_metrics_and_logs(fault: str) -> None:
    service, metric, text = SIGNATURES[fault]
    base = run(minutes=45)
    sim = run([Fault(fault, service, 20, 60, 0.9)], minutes=45)
    before, during = mean(base, service, metric, 22, 45), mean(sim, service, metric, 22, 45)
    assert during > before * 1.3 + 1e-3, (fault, before, during)
    lines, total = sim_logs.search(sim, text, service, None, 25, 100)
    assert total > 0, f"no log line containing {text!r} for {fault}"
    quiet, _ = sim_logs.search(base, text, service, None, 25, 100)
    assert not quiet


def test_memory_leak_ends_in_oom_kill_and_restart() -> None:
    sim = run([Fault("memory_leak", "cartservice", 5, 100, 1.0)], minutes=40)
    ooms = [e for e in sim.events if e.kind == "oom_kill" and e.service == "cartservice"]
    assert len(ooms) >= 2
    mem = sim.history[:, IDX["cartservice"], M["memory"]]
    assert mem.max() > 400 and mem[ooms[0].minute] < 250


@pytest.mark.parametrize(
    ("fault", "service", "action", "metric"),
    [
        ("crash", "cartservice", "restart", "error_rate"),
        ("memory_leak", "adservice", "restart", "memory"),
        ("error_burst", "checkoutservice", "rollback", "error_rate"),
        ("cpu_hog", "currencyservice", "scale", "latency_p99"),
        ("traffic_spike", "productcatalogservice", "scale", "latency_p99"),
    ],
)
def test_each_fix_clears_its_fault(fault: str, service: str, action: str, metric: str) -> None:
    sim = run([Fault(fault, service, 10, 200, 0.9)], minutes=30)
    broken = mean(sim, service, metric, 25, 30)
    if action == "restart":
        sim.restart(service)
    elif action == "rollback":
        sim.rollback(service)
    else:
        sim.scale(service, int(sim.replicas[IDX[service]]) * 4)
    sim.step(10)
    fixed = mean(sim, service, metric, 35, 40)
    assert fixed < broken * 0.7, (fault, broken, fixed)
    if action != "scale":
        assert not sim.active_faults()


def test_the_wrong_fix_does_not_clear_a_fault() -> None:
    sim = run([Fault("error_burst", "paymentservice", 10, 200, 0.9)], minutes=20)
    sim.restart("paymentservice")
    sim.step(5)
    assert sim.active_faults() and mean(sim, "paymentservice", "error_rate", 22, 25) > 0.3


def test_same_seed_same_output() -> None:
    faults = [Fault("cpu_hog", "frontend", 10, 20, 0.7)]
    a = Simulator(LoadCurve.diurnal(seed=3), faults, seed=3)
    b = Simulator(LoadCurve.diurnal(seed=3), faults, seed=3)
    a.step(120)
    b.step(120)
    assert np.array_equal(a.history, b.history)
    assert sim_logs.search(a, "", None, None, 60, 500) == sim_logs.search(b, "", None, None, 60, 500)
    c = Simulator(LoadCurve.diurnal(seed=4), faults, seed=4)
    c.step(120)
    assert not np.array_equal(a.history, c.history)


def test_clone_diverges_independently() -> None:
    parent = run(minutes=30)
    child = parent.clone()
    snapshot = parent.history.copy()
    child.scale("frontend", 10)
    child.step(10)
    assert np.array_equal(parent.history, snapshot) and parent.minute == 30
    assert parent.replicas[IDX["frontend"]] == 3
    parent.step(10)
    assert not np.array_equal(parent.history[30:40, IDX["frontend"]], child.history[30:40, IDX["frontend"]])
    # a clone stepped without actions reproduces its parent exactly (same rng state)
    twin = run(minutes=30)
    twin_clone = twin.clone()
    twin.step(5)
    twin_clone.step(5)
    assert np.array_equal(twin.history, twin_clone.history)


def test_clone_faults_are_independent() -> None:
    parent = run([Fault("crash", "adservice", 5, 100, 1.0)], minutes=10)
    child = parent.clone()
    child.restart("adservice")
    assert parent.active_faults() and not child.active_faults()
