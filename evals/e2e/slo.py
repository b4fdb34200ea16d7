"""The service-level objective an incident is judged by, and when it recovered.

The SLO of a scenario is relative to its own counterfactual: the same seed and load with no faults,
deploys or planted logs (same noise draws, since the simulator's noise does not depend on its state).
At minute t the symptom service meets its SLO when

    latency_p99[t] <= P99_FACTOR * counterfactual_p99[t] + P99_SLACK_MS   and
    error_rate[t]  <= counterfactual_error_rate[t] + ERROR_SLACK

Recovery is judged at the end of a fixed horizon after the request: the SLO must hold over the last
HOLD_MIN minutes of it (a memory leak's brief dip after an OOM kill does not count). The time to
mitigate is the start of the final unbroken run of good minutes, measured from the request.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tools.backends.sim.cluster import Simulator
from tools.backends.sim.model import M
from tools.backends.sim.scenario import Scenario

P99_FACTOR = 1.5
P99_SLACK_MS = 50.0
ERROR_SLACK = 0.02
HORIZON_MIN = 40
HOLD_MIN = 15


def counterfactual(scenario: Scenario, minutes: int) -> Simulator:
    """The scenario without faults, deploys or planted logs, simulated for `minutes` minutes."""
    quiet = scenario.model_copy(update={"faults": [], "deploys": [], "inject_logs": []})
    sim = quiet.build()
    sim.run_until(minutes)
    return sim


@dataclass(frozen=True)
class SloSeries:
    """Per-minute SLO verdicts of one service over minutes [0, len(ok))."""

    service: str
    ok: np.ndarray  # bool per minute
    p99: np.ndarray
    p99_limit: np.ndarray
    err: np.ndarray
    err_limit: np.ndarray


def slo_series(sim: Simulator, cf: Simulator, service: str) -> SloSeries:
    """Judge every simulated minute of `sim` against the counterfactual `cf` (simulated at least as long)."""
    n = sim.minute
    if cf.minute < n:
        raise ValueError(f"counterfactual covers {cf.minute} minutes, need {n}")
    i = sim.idx[service]
    p99 = sim.history[:n, i, M["latency_p99"]]
    err = sim.history[:n, i, M["error_rate"]]
    p99_limit = P99_FACTOR * cf.history[:n, i, M["latency_p99"]] + P99_SLACK_MS
    err_limit = cf.history[:n, i, M["error_rate"]] + ERROR_SLACK
    return SloSeries(service, (p99 <= p99_limit) & (err <= err_limit), p99, p99_limit, err, err_limit)


def violated_before(series: SloSeries, at: int, lookback: int = 5, need: int = 3) -> bool:
    """The symptom is visible when the request comes: at least `need` of the `lookback` minutes before `at` bad."""
    window = series.ok[max(0, at - lookback) : at]
    return int((~window).sum()) >= need


@dataclass(frozen=True)
class Recovery:
    recovered: bool
    mttm_min: int | None  # minutes from the request to the start of the final good run; None if not recovered


def recovery(series: SloSeries, at: int, end: int, hold: int = HOLD_MIN) -> Recovery:
    """Did the SLO hold over the last `hold` minutes before `end`, and since when (from `at`)?"""
    ok = series.ok
    if end > len(ok) or end - at < hold:
        raise ValueError(f"need minutes [{at}, {end}) simulated with at least {hold} of them; have {len(ok)}")
    if not ok[end - hold : end].all():
        return Recovery(False, None)
    start = end - hold
    while start > at and ok[start - 1]:
        start -= 1
    return Recovery(True, start - at)
