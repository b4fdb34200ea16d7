"""Gradual rollout beside the HPA: share falls for a bad policy, rises for a better one; records name who decided."""

from __future__ import annotations

import numpy as np
import pytest

from finetune.policy.env import ScalingEnv
from finetune.policy.gradual import STEPS, GradualRollout, RolloutConfig
from finetune.policy.rollout import HPAController, run


def _load(minutes: int = 700) -> np.ndarray:
    t = np.arange(minutes)
    return 300.0 + 150.0 * np.sin(2 * np.pi * t / 300.0) + 10.0 * np.random.default_rng(0).standard_normal(minutes)


class _Offset:
    """The HPA's decision plus a fixed offset (negative: under-provisions; positive: wastes)."""

    def __init__(self, offset: int) -> None:
        self.name, self.offset, self.hpa = f"offset{offset}", offset, HPAController("inner", 0.6)

    def reset(self, env: ScalingEnv) -> None:
        self.hpa.reset(env)

    def decide(self, env: ScalingEnv) -> int:
        return self.hpa.decide(env) + self.offset


def _rollout(offset: int, hpa_target: float = 0.6) -> GradualRollout:
    ctl = GradualRollout(_Offset(offset), HPAController("hpa", hpa_target), RolloutConfig(window=4, start_step=2))
    run(ctl, _load(), "frontend", 120)
    return ctl


def test_bad_policy_is_cut_and_every_record_names_its_controller() -> None:
    seen: list[dict[str, object]] = []
    ctl = GradualRollout(_Offset(-3), HPAController("hpa", 0.6), RolloutConfig(window=4, start_step=2),
                         on_record=seen.append)
    run(ctl, _load(), "frontend", 120)
    assert ctl.shares[0][1] == STEPS[2] and ctl.share == 0.0
    assert seen == ctl.records and len(seen) == 700 - 120
    assert {r["controller"] for r in seen} <= {"policy", "hpa"}
    for r in seen:
        assert r["replicas"] == (r["policy_replicas"] if r["controller"] == "policy" else r["hpa_replicas"])
        assert r["policy_rollout"] in STEPS
    cut = [x for r in seen if r["shadow"] for x in r["shadow"].get("landed", []) if x["share_change"] == "cut"]
    assert cut and cut[0]["policy_violation_min"] > cut[0]["hpa_violation_min"]


def test_a_score_moves_the_share_only_once_its_minutes_have_passed() -> None:
    # the clone a shadow decision is scored on runs on load still to come: the share may not act on it earlier
    cfg = RolloutConfig(window=1, start_step=2, horizon=30, score_every=5)
    ctl = GradualRollout(_Offset(-3), HPAController("hpa", 0.6), cfg)
    run(ctl, _load(), "frontend", 120)
    first_change = ctl.shares[1][0]
    assert first_change >= 120 + cfg.horizon
    for r in ctl.records:
        for x in (r["shadow"] or {}).get("landed", []):
            assert r["minute"] - x["scored_at_minute"] >= cfg.horizon


def test_cheaper_policy_with_no_more_violations_is_raised() -> None:
    # the incumbent wastes (a low CPU target); the candidate is a tighter HPA that still meets the SLO
    ctl = GradualRollout(HPAController("tighter", 0.6), HPAController("hpa", 0.3), RolloutConfig(window=4))
    run(ctl, _load(), "frontend", 120)
    assert max(s for _, s in ctl.shares) > STEPS[1]
    assert sum(r["controller"] == "policy" for r in ctl.records) > 0


def test_config_is_checked() -> None:
    with pytest.raises(ValueError, match="steps"):
        RolloutConfig(steps=(0.5, 0.1))
    with pytest.raises(ValueError, match="window"):
        RolloutConfig(window=0)
