"""What a scaling policy's actions mean: replica changes relative to now, or corrections to a tuned HPA.

`relative` (the original space): an action adds 0, +-1, +-2 or +-4 replicas to the current count.

`residual` (residual policy learning): a Kubernetes HPA at the tuned CPU target (`hpa_target`) runs beside the
policy, fed the same metrics every minute, and an action is a correction `d` in `deltas` to the HPA's own decision
for the minute: replicas = HPA decision + d, clamped to the service's bounds. Action 0 is d = 0, so the policy that
always takes it is the tuned HPA itself. Behind a safety floor the floor applies to the corrections: a correction
may not leave fewer replicas than min(floor, HPA decision) -- the policy cannot cut below the floor, and the HPA's
own decision is never lifted (so the d = 0 policy stays the tuned HPA exactly). Where the HPA is anchored (`anchor`):
`replicas` (the default) -- it sees the replica count that actually ran, so a correction is something it reacts to,
as to a manual change, and a correction repeated every minute compounds (the HPA keeps a cut count while the
utilisation stays within its tolerance); `own` -- it runs on its own decisions (its utilisation is the CPU in use
over its own replica count), so d is an offset from the HPA's own trajectory that does not feed back into it and a
correction held for several minutes stays d replicas away from that HPA. With d = 0 throughout both are the HPA.

The space is recorded in a saved policy's metadata (`to_meta` / `from_meta`), so the rollout, the evals, the
benchmark and `recommend_scaling` all decide with the semantics the policy was trained with. A residual policy's
input has `RESIDUAL_FEATURES` appended to the observation (the HPA's decision relative to now).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

RELATIVE, RESIDUAL = "relative", "residual"
KINDS = (RELATIVE, RESIDUAL)
RELATIVE_DELTAS: tuple[int, ...] = (0, 1, -1, 2, -2, 4, -4)
RESIDUAL_DELTAS: tuple[int, ...] = (0, 1, -1, 2, -2)
RESIDUAL_FEATURES: tuple[str, ...] = ("hpa_change_share_of_max", "hpa_share_of_max", "hpa_change_div4")
ANCHORS = ("replicas", "own")


def _name(kind: str, d: int) -> str:
    if kind == RELATIVE:
        return "noop" if d == 0 else f"{d:+d}"
    return "hpa" if d == 0 else f"hpa{d:+d}"


@dataclass(frozen=True)
class ActionSpace:
    """The kind of action space, its replica deltas, and (residual) the HPA's CPU target."""

    kind: str = RELATIVE
    deltas: tuple[int, ...] = RELATIVE_DELTAS
    hpa_target: float | None = None
    anchor: str = "replicas"  # residual: what the HPA's utilisation is measured against (see the module docstring)

    def __post_init__(self) -> None:
        if self.anchor not in ANCHORS:
            raise ValueError(f"anchor must be one of {', '.join(ANCHORS)}; got {self.anchor!r}")
        if self.kind not in KINDS:
            raise ValueError(f"action space kind must be one of {', '.join(KINDS)}; got {self.kind!r}")
        if not self.deltas or self.deltas[0] != 0 or len(set(self.deltas)) != len(self.deltas):
            raise ValueError(f"deltas must be distinct and start with 0 (the reference action); got {self.deltas}")
        if self.kind == RESIDUAL and (self.hpa_target is None or not 0.0 < self.hpa_target <= 1.5):
            raise ValueError(f"a residual action space needs an HPA CPU target in (0, 1.5]; got {self.hpa_target}")
        if self.kind == RELATIVE and self.hpa_target is not None:
            raise ValueError("hpa_target belongs to the residual action space only")

    @classmethod
    def residual(cls, hpa_target: float, deltas: tuple[int, ...] = RESIDUAL_DELTAS, anchor: str = "replicas"
                 ) -> ActionSpace:
        return cls(RESIDUAL, tuple(deltas), float(hpa_target), anchor)

    @property
    def is_residual(self) -> bool:
        return self.kind == RESIDUAL

    @property
    def n(self) -> int:
        return len(self.deltas)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(_name(self.kind, d) for d in self.deltas)

    @property
    def extra_features(self) -> tuple[str, ...]:
        return RESIDUAL_FEATURES if self.is_residual else ()

    def base(self, current: int, hpa_decision: int | None) -> int:
        """The replica count the deltas apply to: now (relative) or the HPA's decision (residual)."""
        if not self.is_residual:
            return current
        if hpa_decision is None:
            raise ValueError("a residual action needs the HPA's decision for the minute")
        return hpa_decision

    def floor_for(self, floor: int | None, hpa_decision: int | None) -> int | None:
        """The floor the actions are masked against (residual: never above the HPA's own decision)."""
        if floor is None or not self.is_residual or hpa_decision is None:
            return floor
        return min(floor, hpa_decision)

    def to_meta(self) -> dict[str, Any]:
        return {"kind": self.kind, "deltas": list(self.deltas), "hpa_target": self.hpa_target, "anchor": self.anchor}

    @classmethod
    def from_meta(cls, meta: dict[str, Any] | None) -> ActionSpace:
        """The space in a policy's metadata (policies saved before spaces existed are relative)."""
        if not meta:
            return cls()
        return cls(str(meta["kind"]), tuple(int(d) for d in meta["deltas"]),
                   None if meta.get("hpa_target") is None else float(meta["hpa_target"]),
                   str(meta.get("anchor", "replicas")))


def residual_features(current: int, hpa_decision: int, max_replicas: int) -> np.ndarray:
    """The residual policy's extra inputs: the HPA's decision relative to now and to the maximum."""
    change = hpa_decision - current
    return np.array([change / max_replicas, hpa_decision / max_replicas, float(np.clip(change / 4.0, -2.0, 2.0))],
                    dtype=np.float32)
