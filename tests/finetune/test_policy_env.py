"""Scaling environment: SLO, reward, features, traces (formats, splits, rescaling), clone determinism."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from finetune.policy.env import ACTIONS, ScalingEnv, background_replicas
from finetune.policy.features import FEATURES, HISTORY, N_BASE_FEATURES, POLICY_FEATURES, ServiceInfo, demand, features
from finetune.policy.reward import RewardWeights, minute_reward, reward_series, slo_ms
from finetune.policy.traffic import (
    PEAK_FRACTION,
    PERIODS,
    augment,
    entry_scale,
    has_train_split,
    load_trace,
    split_bounds,
)
from tests.conftest import shared_data
from tests.shop import CAPACITY, IDX, SERVICES, SPECS, VISITS
from tools.backends.sim.model import M


def test_slo_is_p99_of_a_leaf_at_85_percent() -> None:
    # a leaf's p99 is ln(100) x service time / (1 - rho)
    expected = SPECS["paymentservice"].service_ms * np.log(100) / (1 - 0.85)
    assert slo_ms("paymentservice") == pytest.approx(expected, rel=1e-6)
    # callers add their callees' latency on top of their own
    own = SPECS["frontend"].service_ms * np.log(100) / (1 - 0.85)
    assert slo_ms("frontend") > own


def test_reward_penalises_cost_violations_errors_and_churn() -> None:
    w = RewardWeights()
    base = minute_reward(100.0, 0.6, 0.0, 4, 10, 200.0, False, w)
    assert base == pytest.approx(-0.4)
    assert minute_reward(100.0, 0.6, 0.0, 5, 10, 200.0, False, w) < base  # one more replica
    assert minute_reward(300.0, 0.6, 0.0, 4, 10, 200.0, False, w) == pytest.approx(base - w.slo - w.latency * 0.5)
    assert minute_reward(100.0, 0.6, 0.02, 4, 10, 200.0, False, w) == pytest.approx(base - 2.0)
    assert minute_reward(100.0, 0.6, 0.0, 4, 10, 200.0, True, w) == pytest.approx(base - w.churn)
    assert minute_reward(100.0, 0.2, 0.0, 4, 10, 200.0, False, w) == pytest.approx(base - w.idle * 0.3)


def test_reward_series_matches_scalar_reward() -> None:
    w = RewardWeights()
    p99 = np.array([100.0, 250.0, 90.0, 90.0])
    util = np.array([0.6, 0.9, 0.3, 0.3])
    err = np.array([0.0, 0.01, 0.0, 0.0])
    reps = np.array([3.0, 3.0, 4.0, 4.0])
    series = reward_series(p99, util, err, reps, 8, 200.0, w)
    acted = [False, False, True, False]
    scalar = [minute_reward(p99[i], util[i], err[i], reps[i], 8, 200.0, acted[i], w) for i in range(4)]
    np.testing.assert_allclose(series, scalar)


def test_features_are_normalised_and_finite() -> None:
    info = ServiceInfo.of("cartservice")
    rows = np.zeros((3, 8))
    rows[:, M["cpu"]] = [40.0, 50.0, 60.0]
    rows[:, M["replicas"]] = 2
    rows[:, M["latency_p99"]] = info.slo_ms * 0.5
    rows[:, M["throughput"]] = 200.0
    rows[:, M["memory"]] = 200.0
    x = features(rows, 2.0, info, clock_minute=360.0)
    assert x.shape == (N_BASE_FEATURES,) == (len(FEATURES),)
    assert np.isfinite(x).all()
    f = dict(zip(FEATURES, x, strict=True))
    assert f["utilisation"] == pytest.approx(0.6)
    assert f["p99_over_slo"] == pytest.approx(0.5)
    assert f["tod_sin"] == pytest.approx(1.0) and abs(f["tod_cos"]) < 1e-6  # 06:00
    assert f["cpu_trend_1m"] == pytest.approx(0.2)
    assert f["replicas_share_of_max"] == pytest.approx(2 / SPECS["cartservice"].max_replicas)


def test_hour_features_see_a_past_burst_the_short_window_has_forgotten() -> None:
    info = ServiceInfo.of("frontend")
    rows = np.zeros((HISTORY, 8))
    rows[:, M["replicas"]] = 4
    rows[:, M["cpu"]] = 50.0
    rows[:, M["latency_p99"]] = info.slo_ms * 0.5
    calm = dict(zip(FEATURES, features(rows, 4.0, info, 0.0), strict=True))
    rows[HISTORY - 40, M["cpu"]] = 100.0  # a one-minute doubling 40 minutes ago
    burst = dict(zip(FEATURES, features(rows, 4.0, info, 0.0), strict=True))
    assert HISTORY >= 60
    assert burst["max_rise_60m"] == pytest.approx(np.log(2.0), rel=1e-5) and calm["max_rise_60m"] == 0.0
    assert burst["peak_utilisation_60m"] == pytest.approx(1.0) and calm["peak_utilisation_60m"] == pytest.approx(0.5)
    assert burst["load_volatility_60m"] > 0.0 == calm["load_volatility_60m"]
    assert burst["peak_utilisation_20m"] == calm["peak_utilisation_20m"]  # outside the short window


def test_demand_sees_the_load_a_saturated_service_refuses() -> None:
    info = ServiceInfo.of("frontend")
    env = ScalingEnv(np.full(HISTORY + 5, 4.0 * info.capacity), "frontend", warmup=HISTORY, start_replicas=4)
    env.run_minute(4)
    calm = dict(zip(POLICY_FEATURES, env.observe(), strict=True))
    assert calm["demand_utilisation"] == pytest.approx(calm["utilisation"], rel=0.05)
    sat = ScalingEnv(np.full(HISTORY + 5, 8.0 * info.capacity), "frontend", warmup=0, start_replicas=4)
    sat.run_minute(4)
    sat.run_minute(4)
    f = dict(zip(POLICY_FEATURES, sat.observe(), strict=True))
    assert f["utilisation"] <= 1.05  # CPU stops at capacity (plus the metrics' 2 % noise)
    assert f["demand_utilisation"] == pytest.approx(2.0, rel=0.1)  # twice what 4 replicas can serve
    assert float(demand(sat.rows(2))[-1]) == pytest.approx(8.0, rel=0.1)


def test_demand_follows_cpu_in_use_when_requests_cost_more_cpu() -> None:
    rows = np.zeros((3, 8))
    rows[:, M["replicas"]] = 3
    rows[:, M["throughput"]] = 300.0
    rows[:, M["cpu"]] = [30.0, 30.0, 80.0]  # a CPU hog: the same requests now use 80 % CPU
    rows[:, M["error_rate"]] = 0.5  # errors from callees: the service itself is not saturated
    np.testing.assert_allclose(demand(rows), [0.9, 0.9, 2.4])


def test_hour_ago_features_see_a_spike_recurring_at_the_coming_minute() -> None:
    info = ServiceInfo.of("frontend")
    rows = np.zeros((HISTORY, 8))
    rows[:, M["replicas"]] = 4
    rows[:, M["cpu"]] = 25.0
    rows[:, M["throughput"]] = 2.0 * info.capacity
    rows[:, M["latency_p99"]] = info.slo_ms * 0.5
    flat = dict(zip(FEATURES, features(rows, 4.0, info, 0.0), strict=True))
    rows[0, M["cpu"]] = 75.0  # an hour before the coming minute: three times the load
    spike = dict(zip(FEATURES, features(rows, 4.0, info, 0.0), strict=True))
    assert flat["hour_ago_vs_now"] == pytest.approx(0.0, abs=1e-6)
    assert flat["hour_ago_step"] == pytest.approx(0.0, abs=1e-6)
    assert spike["hour_ago_vs_now"] == pytest.approx(np.log(3.0), rel=1e-5)
    assert spike["hour_ago_step"] == pytest.approx(np.log(3.0), rel=1e-5)


def test_augment_adds_scheduled_spikes_at_a_fixed_period() -> None:
    load = np.full(600, 50.0)
    found = set()
    for seed in range(60):
        x = augment(load, np.random.default_rng(seed))
        ratio = x / np.median(x)
        high = np.nonzero(ratio > 1.45)[0]
        if len(high) >= 6:
            gaps = np.diff(high)
            found.update(int(g) for g in gaps if g in PERIODS)
    assert found, "no seed produced spikes at one of the scheduled periods"


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_trace_formats_clock_column_and_sum(tmp_path: Path) -> None:
    p = _write(tmp_path / "a.csv", "minute,timestamp,requests\n0,1995-07-01 06:30:00,5\n1,1995-07-01 06:31:00,7\n")
    tr = load_trace(p)
    assert tr.clock0 == 390 and list(tr.counts) == [5, 7]
    p2 = _write(tmp_path / "b.csv", "minute,requests\n0,3\n1,4\n")
    assert load_trace(p2).clock0 == 0
    p3 = _write(tmp_path / "c.csv", "HashFunction,HashApp,HashOwner,minute_1,minute_2\nf1,a,o,1,2\nf2,a,o,10,20\n")
    assert list(load_trace(p3).counts) == [11, 22]
    assert list(load_trace(p3, "f2").counts) == [10, 20]
    with pytest.raises(ValueError, match="no row named"):
        load_trace(p3, "nope")


def test_splits_by_whole_weeks() -> None:
    n = 27 * 1440 + 812  # NASA July 1995: 27.56 days
    assert split_bounds(n, "train") == (0, 21 * 1440)
    assert split_bounds(n, "test") == (21 * 1440, n)
    assert split_bounds(1440, "test") == (0, 1440) and not has_train_split(1440)
    with pytest.raises(ValueError, match="no training split"):
        split_bounds(1440, "train")
    with pytest.raises(ValueError, match="train, test, all"):
        split_bounds(n, "validation")


def test_rescaling_maps_p99_to_a_share_of_max_capacity() -> None:
    counts = np.arange(1, 1001, dtype=float)
    for svc in ("frontend", "checkoutservice"):
        s = entry_scale(counts, svc)
        offered = np.percentile(counts, 99) * s * VISITS[IDX[svc]]
        assert offered == pytest.approx(PEAK_FRACTION * SPECS[svc].max_replicas * CAPACITY[IDX[svc]])


def test_augment_is_seeded_and_positive() -> None:
    load = np.full(300, 50.0)
    a = augment(load, np.random.default_rng(3))
    b = augment(load, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    assert (a > 0).all()


def test_background_services_are_sized_for_the_peak() -> None:
    reps = background_replicas(np.array([100.0, 400.0]), "frontend")
    assert "frontend" not in reps and set(reps) == set(SERVICES) - {"frontend"}
    for s, n in reps.items():
        assert 400.0 * VISITS[IDX[s]] / (n * CAPACITY[IDX[s]]) <= 0.5


def test_env_clone_is_deterministic_and_independent() -> None:
    env = ScalingEnv(np.full(60, 300.0), "frontend", seed=4)
    assert env.minute == HISTORY
    start = env.replicas
    c1, c2 = env.clone(), env.clone()
    r1 = [c1.step(ACTIONS.index(1)) for _ in range(3)]
    r2 = [c2.step(ACTIONS.index(1)) for _ in range(3)]
    assert r1 == r2
    assert env.replicas == start and env.minute == HISTORY  # the parent is untouched
    assert c1.replicas == min(start + 3, SPECS["frontend"].max_replicas)


def test_env_clamps_to_bounds() -> None:
    env = ScalingEnv(np.full(30, 10.0), "paymentservice", start_replicas=1)
    env.step(ACTIONS.index(-4))
    assert env.replicas == SPECS["paymentservice"].min_replicas
    for _ in range(4):
        env.step(ACTIONS.index(4))
    assert env.replicas == SPECS["paymentservice"].max_replicas


def test_real_traces_split_as_documented() -> None:
    d = shared_data("traces")
    nasa = load_trace(d / "nasa_http_1995_jul.csv")
    lo, hi = split_bounds(len(nasa), "test")
    assert lo == 21 * 1440 and hi == len(nasa)  # July 22 onwards is week 4
    assert nasa.clock0 == 0
    azure = load_trace(d / "azure_functions_2019_d01_sample1000_total.csv")
    assert len(azure) == 1440 and split_bounds(len(azure), "test") == (0, 1440)


def test_clock_reads_iso_and_epoch_timestamps(tmp_path: Path) -> None:
    iso = _write(tmp_path / "iso.csv", "minute,timestamp,requests\n0,1998-06-01T13:05:00Z,5\n")
    epoch = _write(tmp_path / "epoch.csv", "timestamp,requests\n3600,5\n")
    junk = _write(tmp_path / "junk.csv", "minute,timestamp,requests\n0,not-a-time,5\n")
    assert load_trace(iso).clock0 == 13 * 60 + 5
    assert load_trace(epoch).clock0 == 60
    assert load_trace(junk).clock0 == 0
