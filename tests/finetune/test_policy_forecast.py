"""Load forecasts (runtime.forecast), the safety floor and its mask, and the synthetic traffic families."""

from __future__ import annotations

import numpy as np
import pytest

from finetune.policy.env import ACTIONS, ScalingEnv
from finetune.policy.families import FAMILIES, HELDOUT_FAMILIES, TRAIN_FAMILIES, generate, time_warp
from finetune.policy.rollout import ForecastController, HPAController, PolicyController, run
from finetune.policy.safety import SafetyFloor, mask
from runtime.forecast import DAY, HourForecast, NoForecast, next_hour, peak_ratios, short_term


def _noisy(n: int, sigma: float, seed: int = 0, level: float = 4.0) -> np.ndarray:
    return level * np.exp(sigma * np.random.default_rng(seed).standard_normal(n))


def test_short_term_upper_quantile_covers_stationary_noise() -> None:
    d = _noisy(4000, 0.1)
    hits = []
    for t in range(300, 3900, 7):
        fc = short_term(d[:t], horizon=5)
        assert fc is not None
        hits.append(d[t : t + 5].max() <= fc.demand(0.9))
    assert 0.8 <= float(np.mean(hits)) <= 0.97  # calibrated near 0.9, not trivially always/never


def test_short_term_widens_with_volatility_and_reports_recent_error() -> None:
    calm, wild = short_term(_noisy(240, 0.02)), short_term(_noisy(240, 0.3))
    assert calm is not None and wild is not None
    assert wild.ratios[-1] > calm.ratios[-1] > 1.0
    assert list(wild.ratios) == sorted(wild.ratios)
    jump = np.concatenate([_noisy(210, 0.02), _noisy(30, 0.02, level=12.0)])  # the last half hour tripled
    fc = short_term(jump)
    assert fc is not None and fc.recent_exceed > 0 and fc.recent_excess > 0


def test_short_term_needs_history() -> None:
    assert short_term(np.ones(10)) is None
    assert len(peak_ratios(np.ones(4), 5)) == 0


def test_next_hour_finds_the_daily_peak_and_says_when_history_is_short() -> None:
    t = np.arange(2 * DAY)
    d = 3.0 + 2.0 * np.exp(-0.5 * ((t % DAY - 1000) / 40.0) ** 2)  # a daily peak at minute 1000 of the day
    fc = next_hour(d[: DAY + 960])  # 40 minutes before the second day's peak
    assert isinstance(fc, HourForecast) and fc.method == "seasonal"
    assert fc.peak_in_min is not None and abs(fc.peak_in_min - 40) <= 5
    assert fc.p90_peak >= fc.p50_peak > 4.5
    level = next_hour(d[:300])
    assert isinstance(level, HourForecast) and level.method == "level" and level.peak_in_min is None
    none = next_hour(d[:60])
    assert isinstance(none, NoForecast) and "60 minutes" in none.reason


def test_mask_keeps_actions_at_or_above_the_floor() -> None:
    targets = np.array([5, 6, 4, 7, 3, 9, 1])
    assert mask(targets, 6).tolist() == [False, True, False, True, False, True, False]
    assert mask(targets, None).all()
    only = mask(targets, 12)  # nothing reaches it: the highest target only
    assert only.tolist() == [False, False, False, False, False, True, False]
    with pytest.raises(ValueError, match="tau"):
        SafetyFloor(tau=1.5)


def _flash(minutes: int = 900) -> np.ndarray:
    t = np.arange(minutes)
    return 150.0 + 350.0 * ((t > 500) & (t < 560)) * np.exp(-np.clip(t - 500, 0, None) / 30.0)


def test_policy_behind_the_floor_never_goes_below_it() -> None:
    class Down:  # a policy that always wants the largest scale-down
        def greedy(self, x: np.ndarray, allowed: np.ndarray | None = None) -> int:
            order = np.argsort(ACTIONS)  # -4 first
            return int(next(a for a in order if allowed is None or allowed[a]))

    floor = SafetyFloor(0.5)
    env = ScalingEnv(_flash(), "frontend", warmup=300)
    env.floor = floor
    for _ in range(200):
        f = env.floor_replicas()
        n = env.target(int(Down().greedy(env.observe(), env.action_mask())))
        assert f is not None and n >= f
        env.run_minute(n)
    load = _flash()
    floored = run(PolicyController("down", Down(), floor), load, "frontend", 300).summary()  # type: ignore[arg-type]
    bare = run(PolicyController("down", Down()), load, "frontend", 300).summary()  # type: ignore[arg-type]
    assert floored["slo_violation_min"] < bare["slo_violation_min"]
    assert floored["replica_hours"] > bare["replica_hours"]


def test_forecast_controller_follows_load_up_and_down() -> None:
    load = _flash()
    r = run(ForecastController("forecast", SafetyFloor(0.9)), load, "frontend", 300)
    h = run(HPAController("hpa", 0.65), load, "frontend", 300)
    assert r.replicas[210:250].max() > r.replicas[:150].max()  # the crowd
    assert r.replicas[-50:].max() < r.replicas[210:250].max()  # and back down
    assert r.demand is not None and len(r.demand) == len(load) and r.warmup == 300
    assert h.summary()["replica_hours"] > 0


def test_families_are_seeded_finite_and_held_out_ones_are_not_trained_on() -> None:
    assert not set(TRAIN_FAMILIES) & set(HELDOUT_FAMILIES) and len(HELDOUT_FAMILIES) >= 3
    for name in FAMILIES:
        a, b = generate(name, 2000, 3), generate(name, 2000, 3)
        assert a.shape == (2000,) and np.isfinite(a).all() and (a >= 0).all() and a.max() > 0
        assert np.array_equal(a, b)
        assert not np.array_equal(a, generate(name, 2000, 4))
    with pytest.raises(ValueError, match="allowed: diurnal"):
        generate("sine", 10, 0)
    x = np.arange(1000.0)
    w = time_warp(x, 500, np.random.default_rng(0))
    assert w.shape == (500,) and np.all(np.diff(w) >= 0) and w[-1] <= 999
