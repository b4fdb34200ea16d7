"""The next-hour forecast over an eval run: the band `keel eval scaling` draws, and how often it held.

At the start of every hour of the scored split (once two hours of history exist), `runtime.forecast.next_hour`
forecasts the coming hour from the demand seen so far (replicas' worth of CPU, the run's own metrics, no
look at the future), converted to replicas at the SLO's 85 % utilisation. The band runs from the median
path to the 90th percentile; coverage is the share of hours whose actual peak demand stayed under the
90th-percentile peak, and the median error is that of the median peak.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from finetune.policy.safety import SLO_UTILISATION
from runtime.forecast import NEXT_HOUR, HourForecast, next_hour


@dataclass
class ForecastBand:
    minutes: np.ndarray  # scored-minute index of each band point
    p50: np.ndarray  # replicas
    p90: np.ndarray
    hours: int
    coverage_p90: float
    median_abs_log_error: float


def forecast_band(demand: np.ndarray, warmup: int) -> ForecastBand:
    """Hourly next-hour forecasts over `demand` (warm-up minutes first); see the module docstring."""
    mins, p50, p90, hits, errs = [], [], [], [], []
    n = len(demand)
    for origin in range(warmup, n - NEXT_HOUR + 1, NEXT_HOUR):
        fc = next_hour(demand[:origin])
        if not isinstance(fc, HourForecast):
            continue
        spread = fc.p90_peak / max(fc.p50_peak, 1e-9)
        mins.append(np.arange(origin, origin + NEXT_HOUR) - warmup)
        p50.append(fc.path / SLO_UTILISATION)
        p90.append(fc.path * spread / SLO_UTILISATION)
        actual = float(demand[origin : origin + NEXT_HOUR].max())
        hits.append(actual <= fc.p90_peak)
        errs.append(abs(np.log(max(actual, 1e-3) / max(fc.p50_peak, 1e-3))))
    if not mins:
        return ForecastBand(np.empty(0), np.empty(0), np.empty(0), 0, float("nan"), float("nan"))
    return ForecastBand(np.concatenate(mins), np.concatenate(p50), np.concatenate(p90), len(hits),
                        round(float(np.mean(hits)), 3), round(float(np.median(errs)), 3))
