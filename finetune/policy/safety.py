"""The safety floor: at decision time, no action may leave fewer replicas than the short-term forecast needs.

The floor is the replica count that serves the forecast's `tau` quantile of the next minutes' peak demand
at `utilisation` (the SLO is defined at 85 % utilisation, see `finetune.policy.reward`), within the
service's bounds. Actions landing below it are masked before the policy chooses (and before GRPO samples);
when every action lands below it (a jump larger than +4), the decision is the floor itself. It reads the
service's own past demand only, never the load to come.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from finetune.policy.features import ServiceInfo
from runtime.forecast import ShortForecast

SLO_UTILISATION = 0.85


@dataclass(frozen=True)
class SafetyFloor:
    tau: float = 0.5
    utilisation: float = SLO_UTILISATION

    def __post_init__(self) -> None:
        if not 0.0 < self.tau < 1.0:
            raise ValueError(f"floor tau must be in (0, 1), got {self.tau}")
        if not 0.0 < self.utilisation <= 1.0:
            raise ValueError(f"floor utilisation must be in (0, 1], got {self.utilisation}")

    def replicas(self, fc: ShortForecast | None, info: ServiceInfo, seen: np.ndarray | None = None) -> int | None:
        """The floor for the next decision: the replicas the forecast's `tau` quantile of peak demand needs.
        Without a forecast (too little history) it is the peak of the demand `seen` lately when given (what
        `recommend_scaling` passes), else None (the training and evaluation environment: no floor yet)."""
        if fc is not None:
            peak = fc.demand(self.tau)
        elif seen is not None and len(seen):
            peak = float(np.max(seen))
        else:
            return None
        need = math.ceil(peak / self.utilisation - 1e-9)
        return int(min(max(need, info.min_replicas), info.max_replicas))

    def describe(self) -> str:
        return (f"replicas >= the short-term forecast's {self.tau:g} quantile of peak demand at "
                f"{self.utilisation:.0%} utilisation")


def mask(targets: np.ndarray, floor: int | None) -> np.ndarray:
    """Allowed actions given their replica targets: those at or above `floor` (the highest one when none is)."""
    if floor is None:
        return np.ones(len(targets), dtype=bool)
    ok = targets >= floor
    if not ok.any():
        ok[int(np.argmax(targets))] = True
    return ok
