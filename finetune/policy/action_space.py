"""What a scaling policy's actions mean: replica changes, corrections to a tuned HPA, or caps and lifts of it.

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

`capped`: the same HPA (anchored on the replicas that ran) beside the policy, and an action is a sizing rule
applied to its decision. Rule "hpa" is the HPA's decision itself; "min:TAU:U" caps it at the replicas that serve the
short-term forecast's TAU quantile of the next minutes' peak demand at utilisation U (the HPA's scale-down window
and tolerance band keep replicas that the load no longer needs; the cap releases them); "max:TAU:U" lifts it to
that count (headroom before a rise the forecast expects). Without a forecast (too little history) every rule is
the HPA's decision. Action 0 is "hpa", so the policy that always takes it is the tuned HPA itself.

The space is recorded in a saved policy's metadata (`to_meta` / `from_meta`), so the rollout, the evals, the
benchmark and `recommend_scaling` all decide with the semantics the policy was trained with. A residual policy's
input has `RESIDUAL_FEATURES` appended to the observation (the HPA's decision relative to now).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from runtime.forecast import ShortForecast

RELATIVE, RESIDUAL, CAPPED = "relative", "residual", "capped"
KINDS = (RELATIVE, RESIDUAL, CAPPED)
HPA_RULE = "hpa"
CAPPED_RULES: tuple[str, ...] = (HPA_RULE, "min:0.97:0.75", "min:0.9:0.75", "max:0.9:0.85", "max:0.97:0.75")
RELATIVE_DELTAS: tuple[int, ...] = (0, 1, -1, 2, -2, 4, -4)
RESIDUAL_DELTAS: tuple[int, ...] = (0, 1, -1, 2, -2)
RESIDUAL_FEATURES: tuple[str, ...] = ("hpa_change_share_of_max", "hpa_share_of_max", "hpa_change_div4")
ANCHORS = ("replicas", "own")


def parse_rule(rule: str) -> tuple[str, float, float] | None:
    """("min" | "max", tau, utilisation) of a capped-space rule; None for "hpa". Raises on a malformed rule."""
    if rule == HPA_RULE:
        return None
    parts = rule.split(":")
    try:
        op, tau, util = parts[0], float(parts[1]), float(parts[2])
    except (IndexError, ValueError) as e:
        raise ValueError(f"rule {rule!r}: expected 'hpa', 'min:TAU:U' or 'max:TAU:U'") from e
    if len(parts) != 3 or op not in ("min", "max") or not 0.0 < tau < 1.0 or not 0.0 < util <= 1.0:
        raise ValueError(f"rule {rule!r}: expected 'hpa', 'min:TAU:U' or 'max:TAU:U' with TAU in (0, 1), U in (0, 1]")
    return op, tau, util


def check_rules(rules: tuple[str, ...]) -> None:
    """Raise unless `rules` is a valid capped rule list: distinct, well-formed, "hpa" first."""
    if not rules or rules[0] != HPA_RULE or len(set(rules)) != len(rules):
        raise ValueError(f"capped rules must be distinct and start with 'hpa'; got {list(rules)}")
    for r in rules:
        parse_rule(r)


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
    rules: tuple[str, ...] = ()  # capped: the sizing rule of each action (see the module docstring)

    def __post_init__(self) -> None:
        if self.anchor not in ANCHORS:
            raise ValueError(f"anchor must be one of {', '.join(ANCHORS)}; got {self.anchor!r}")
        if self.kind not in KINDS:
            raise ValueError(f"action space kind must be one of {', '.join(KINDS)}; got {self.kind!r}")
        if self.kind == CAPPED:
            check_rules(self.rules)
            if self.anchor != "replicas":
                raise ValueError("the capped space's HPA is anchored on the replicas that ran (anchor 'replicas')")
        elif self.rules:
            raise ValueError("rules belong to the capped action space only")
        elif not self.deltas or self.deltas[0] != 0 or len(set(self.deltas)) != len(self.deltas):
            raise ValueError(f"deltas must be distinct and start with 0 (the reference action); got {self.deltas}")
        if self.kind != RELATIVE and (self.hpa_target is None or not 0.0 < self.hpa_target <= 1.5):
            raise ValueError(f"a {self.kind} action space needs an HPA CPU target in (0, 1.5]; got {self.hpa_target}")
        if self.kind == RELATIVE and self.hpa_target is not None:
            raise ValueError("hpa_target belongs to the HPA-based action spaces (residual, capped) only")

    @classmethod
    def residual(cls, hpa_target: float, deltas: tuple[int, ...] = RESIDUAL_DELTAS, anchor: str = "replicas"
                 ) -> ActionSpace:
        return cls(RESIDUAL, tuple(deltas), float(hpa_target), anchor)

    @classmethod
    def capped(cls, hpa_target: float, rules: tuple[str, ...] = CAPPED_RULES) -> ActionSpace:
        return cls(CAPPED, (0,), float(hpa_target), "replicas", tuple(rules))

    @functools.cached_property
    def parsed_rules(self) -> tuple[tuple[str, float, float] | None, ...]:
        """`parse_rule` of every capped rule, parsed once (empty for the other spaces)."""
        return tuple(parse_rule(r) for r in self.rules)

    @property
    def hpa_based(self) -> bool:
        """Whether a tuned HPA runs beside the policy and its actions are relative to its decision."""
        return self.kind in (RESIDUAL, CAPPED)

    @property
    def n(self) -> int:
        return len(self.rules) if self.kind == CAPPED else len(self.deltas)

    @property
    def names(self) -> tuple[str, ...]:
        if self.kind == CAPPED:
            return self.rules
        return tuple(_name(self.kind, d) for d in self.deltas)

    def describe(self) -> str:
        """One line on what the actions are."""
        if self.kind == CAPPED:
            return f"sizing rules {list(self.rules)} on an HPA at CPU target {self.hpa_target} run beside it"
        if self.kind == RESIDUAL:
            return f"corrections {list(self.deltas)} to an HPA at CPU target {self.hpa_target} run beside it"
        return f"replica changes {list(self.deltas)}"

    def targets(self, current: int, hpa_decision: int | None, fc: ShortForecast | None, lo: int, hi: int
                ) -> np.ndarray:
        """The replica count every action leads to, clamped to [lo, hi] (no safety floor)."""
        if self.kind != CAPPED:
            base = self.base(current, hpa_decision)
            return np.array([min(max(base + d, lo), hi) for d in self.deltas])
        if hpa_decision is None:
            raise ValueError("a capped action needs the HPA's decision for the minute")
        out = []
        for parsed in self.parsed_rules:
            n = hpa_decision
            if parsed is not None and fc is not None:
                op, tau, util = parsed
                sized = math.ceil(fc.demand(tau) / util - 1e-9)
                n = min(n, sized) if op == "min" else max(n, sized)
            out.append(min(max(n, lo), hi))
        return np.array(out)

    @property
    def extra_features(self) -> tuple[str, ...]:
        """Inputs appended to the observation: the HPA's decision (residual, capped) and each rule's count
        against it (capped)."""
        if self.kind == CAPPED:
            return RESIDUAL_FEATURES + tuple(f"{r}_vs_hpa_div4" for r in self.rules[1:])
        return RESIDUAL_FEATURES if self.hpa_based else ()

    def inputs(self, current: int, hpa_decision: int | None, targets: np.ndarray, max_replicas: int) -> np.ndarray:
        """The values of `extra_features` (`targets`: the count each action leads to, `targets`)."""
        if not self.hpa_based:
            return np.zeros(0, dtype=np.float32)
        assert hpa_decision is not None, "the HPA's decision is needed"
        x = residual_features(current, hpa_decision, max_replicas)
        if self.kind != CAPPED:
            return x
        rel = np.clip((np.asarray(targets[1:], dtype=float) - hpa_decision) / 4.0, -3.0, 3.0).astype(np.float32)
        return np.concatenate([x, rel])

    def base(self, current: int, hpa_decision: int | None) -> int:
        """The replica count the deltas apply to: now (relative) or the HPA's decision (residual)."""
        if not self.hpa_based:
            return current
        if hpa_decision is None:
            raise ValueError("a residual action needs the HPA's decision for the minute")
        return hpa_decision

    def floor_for(self, floor: int | None, hpa_decision: int | None) -> int | None:
        """The floor the actions are masked against (residual: never above the HPA's own decision)."""
        if floor is None or not self.hpa_based or hpa_decision is None:
            return floor
        return min(floor, hpa_decision)

    def to_meta(self) -> dict[str, Any]:
        out = {"kind": self.kind, "deltas": list(self.deltas), "hpa_target": self.hpa_target, "anchor": self.anchor}
        return {**out, "rules": list(self.rules)} if self.rules else out

    @classmethod
    def from_meta(cls, meta: dict[str, Any] | None) -> ActionSpace:
        """The space in a policy's metadata (policies saved before spaces existed are relative)."""
        if not meta:
            return cls()
        return cls(str(meta["kind"]), tuple(int(d) for d in meta["deltas"]),
                   None if meta.get("hpa_target") is None else float(meta["hpa_target"]),
                   str(meta.get("anchor", "replicas")), tuple(str(r) for r in meta.get("rules", ())))


def residual_features(current: int, hpa_decision: int, max_replicas: int) -> np.ndarray:
    """The residual policy's extra inputs: the HPA's decision relative to now and to the maximum."""
    change = hpa_decision - current
    return np.array([change / max_replicas, hpa_decision / max_replicas, float(np.clip(change / 4.0, -2.0, 2.0))],
                    dtype=np.float32)
