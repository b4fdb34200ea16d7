"""The Kubernetes HPA algorithm: tolerance, ratio, rate limits, scale-down stabilisation, bounds; static rule."""

from __future__ import annotations

import numpy as np

from finetune.policy.features import HISTORY
from finetune.policy.hpa import HPA, static_replicas
from finetune.policy.rollout import HPAController, StaticController, run


def test_within_tolerance_nothing_changes() -> None:
    h = HPA(0.5, 1, 20)
    assert h.sync(0, 4, 0.54) == 4  # ratio 1.08
    assert h.sync(15, 4, 0.46) == 4  # ratio 0.92


def test_scale_up_is_ceil_of_ratio_times_current() -> None:
    h = HPA(0.5, 1, 20)
    assert h.sync(0, 4, 0.7) == 6  # ceil(4 * 1.4) = 6


def test_scale_up_rate_limit_is_max_of_double_and_four_pods_per_period() -> None:
    h = HPA(0.1, 1, 100)
    assert h.sync(0, 1, 1.0) == 5  # wants 10; +4 pods beats +100 %
    h = HPA(0.1, 1, 100)
    assert h.sync(0, 10, 1.0) == 20  # wants 100; +100 % beats +4 pods
    # a second sync within the same 15 s period is limited from the period's starting count
    h = HPA(0.1, 1, 100)
    assert h.sync(0, 10, 1.0) == 20
    assert h.sync(5, 20, 1.0) == 20
    assert h.sync(15, 20, 1.0) == 40  # the next period may double again


def test_scale_down_waits_for_the_stabilisation_window() -> None:
    h = HPA(0.5, 1, 20)
    assert h.sync(0, 4, 1.0) == 8
    n = 8
    for k in range(1, 20):  # 15 s .. 285 s: the 8-replica recommendation still stands
        n = h.sync(15 * k, n, 0.1)
        assert n == 8
    assert h.sync(300, n, 0.1) < 8  # 300 s later it has left the window


def test_bounds_and_initial_window() -> None:
    assert HPA(0.5, 2, 6).sync(0, 4, 5.0) == 6
    h = HPA(0.5, 2, 6)
    n = 4
    for k in range(20):  # a new HPA's window starts with the current count: no scale-down for 300 s
        n = h.sync(15 * k, n, 0.01)
        assert n == 4
    assert h.sync(300, n, 0.01) == 2  # then down to min replicas, not to the desired 1


def test_four_syncs_per_minute_share_the_minute_cpu() -> None:
    h = HPA(0.5, 1, 50)
    # 10 replicas' worth of CPU in use on 1 replica: +4, then the utilisation seen falls as pods are added
    assert h.minute(0, 1, 10.0) == 20
    h = HPA(0.5, 1, 50)
    assert h.minute(0, 4, 2.0) == 4  # utilisation 0.5: on target


def test_static_rule() -> None:
    assert static_replicas(700.0, 100.0, 20) == 10  # 700 / (100 x 0.7)
    assert static_replicas(7000.0, 100.0, 20) == 20


def test_hpa_follows_a_step_in_the_simulator() -> None:
    load = np.concatenate([np.full(HISTORY + 30, 200.0), np.full(60, 900.0)])
    r = run(HPAController("hpa", 0.6), load, "frontend", HISTORY)
    assert r.replicas[:30].max() <= 3 and r.replicas[-10:].min() >= 6
    assert r.summary()["actions"] >= 1
    s = run(StaticController("static", 12), load, "frontend", HISTORY).summary()
    assert s["replica_hours"] == 12 * 90 / 60 and s["actions"] == 0
