"""The forecast-sizing frontier: past-only inputs, plans from quantiles, pricing, and the controller."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from evals.scaling_frontier import (
    DAY,
    N_INPUTS,
    SIZING_UTILISATION,
    ForecastController,
    Forecaster,
    fit_forecaster,
    forecast_inputs,
    plans,
)
from finetune.policy.env import ScalingEnv


def _log_load(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return np.log(3.0 + np.sin(2 * np.pi * t / DAY) + 0.1 * rng.standard_normal(n))


def test_inputs_read_only_the_past() -> None:
    ll = _log_load(DAY + 200)
    t = DAY + 100
    before = forecast_inputs(ll, t, 0.0)
    changed = ll.copy()
    changed[t:] += 5.0  # the minute being forecast and everything after it
    assert before.shape == (N_INPUTS,)
    np.testing.assert_array_equal(before, forecast_inputs(changed, t, 0.0))


class _Fixed(nn.Module):
    """Forecasts the same log changes for every input."""

    def __init__(self, q: list[float]) -> None:
        super().__init__()
        self.q = torch.tensor(q)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.q.expand(len(x), -1)


def test_plans_size_to_the_quantile_and_more_for_a_higher_price() -> None:
    ll = np.log(np.full(DAY + 100, 4.0))
    taus = (0.5, 0.9, 0.99)
    fc = Forecaster(_Fixed([0.0, np.log(1.5), np.log(2.0)]), np.zeros(N_INPUTS), np.ones(N_INPUTS), taus)
    out = plans(fc, ll, 0, DAY + 10, DAY + 20, warmup=5, prices=(1.0, 100.0))
    assert len(out["q0.5"]) == 5 + 10 and (out["q0.5"][:5] == 1).all()
    assert out["q0.5"][5] == np.ceil(4.0 / SIZING_UTILISATION)
    assert out["q0.99"][5] == np.ceil(8.0 / SIZING_UTILISATION)
    assert (out["price100"][5:] >= out["price1"][5:]).all() and out["price100"][5] > out["price1"][5]


def test_forecaster_learns_a_quantile_of_a_noisy_series() -> None:
    ll = _log_load(DAY * 2, seed=1)
    fc = fit_forecaster(ll, 0, 0, len(ll), epochs=60, taus=(0.1, 0.9))
    x = np.stack([forecast_inputs(ll, t, float(t)) for t in range(DAY + 1, DAY + 400)])
    q = fc.quantiles(x)
    y = ll[DAY + 1 : DAY + 400] - ll[DAY : DAY + 399]
    assert (q[:, 0] <= q[:, 1]).all()
    inside = float(((y >= q[:, 0]) & (y <= q[:, 1])).mean())
    assert inside == pytest.approx(0.8, abs=0.15)


def test_controller_follows_its_plan_by_minute() -> None:
    env = ScalingEnv(np.full(70, 300.0), "frontend", warmup=60)
    plan = np.arange(70) % 5 + 1
    ctl = ForecastController("x", plan)
    ctl.reset(env)
    assert ctl.decide(env) == plan[60]
