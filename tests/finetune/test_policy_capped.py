"""The capped action space: sizing rules on a tuned HPA's decision (itself, capped at or lifted to a forecast size)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from finetune.policy.action_space import CAPPED_RULES, ActionSpace, parse_rule
from finetune.policy.env import ScalingEnv
from finetune.policy.inference import load_policy, policy_space
from finetune.policy.model import save_policy
from finetune.policy.rollout import HPAController, PolicyController, run
from finetune.policy.safety import SafetyFloor
from finetune.policy.train import reference_net
from runtime.forecast import LOOKBACK, ShortForecast
from tests.finetune.hpa_based import Always, wavy_load

SPACE = ActionSpace.capped(0.65)


def test_rules_are_parsed_and_bad_ones_name_the_rule() -> None:
    assert parse_rule("hpa") is None
    assert parse_rule("min:0.9:0.75") == ("min", 0.9, 0.75)
    for bad in ("cap:0.9:0.75", "min:1.2:0.75", "min:0.9", "max:0.9:x"):
        with pytest.raises(ValueError, match=bad.replace(".", r"\.")):
            parse_rule(bad)
    with pytest.raises(ValueError, match="start with 'hpa'"):
        ActionSpace.capped(0.65, ("min:0.9:0.75", "hpa"))
    with pytest.raises(ValueError, match="HPA CPU target"):
        ActionSpace("capped", (0,), None, "replicas", CAPPED_RULES)


def test_targets_cap_and_lift_the_hpa_decision_by_the_forecast() -> None:
    fc = ShortForecast(level=4.0, horizon=5, taus=(0.5, 0.9, 0.97), ratios=(1.0, 1.2, 1.5), recent_exceed=0.0,
                       recent_excess=0.0, samples=100)
    space = ActionSpace.capped(0.65, ("hpa", "min:0.9:0.75", "max:0.97:0.75"))
    sized_90, sized_97 = math.ceil(4.0 * 1.2 / 0.75), math.ceil(4.0 * 1.5 / 0.75)  # 7, 8
    assert list(space.targets(5, 10, fc, 1, 12)) == [10, sized_90, 10]  # a high HPA decision is capped
    assert list(space.targets(5, 3, fc, 1, 12)) == [3, 3, sized_97]  # a low one is lifted by "max"
    assert list(space.targets(5, 10, None, 1, 12)) == [10, 10, 10]  # no forecast: every rule is the HPA
    assert list(space.targets(5, 10, fc, 1, 6)) == [6, 6, 6]  # within the bounds


def test_the_hpa_rule_reproduces_the_hpa_and_a_cap_saves_replicas() -> None:
    load = wavy_load()
    hpa = run(HPAController("hpa", 0.65), load, "frontend", LOOKBACK, seed=3)
    rule0 = run(PolicyController("hpa", Always(0, SPACE.n), SafetyFloor(0.5), SPACE), load,  # type: ignore[arg-type]
                "frontend", LOOKBACK, seed=3)
    assert hpa.replicas.std() > 0
    np.testing.assert_array_equal(rule0.replicas, hpa.replicas)
    cap = SPACE.names.index("min:0.9:0.75")
    capped = run(PolicyController("cap", Always(cap, SPACE.n), SafetyFloor(0.5), SPACE), load,  # type: ignore[arg-type]
                 "frontend", LOOKBACK, seed=3)
    assert (capped.replicas <= hpa.replicas + 4).all()  # the HPA sees the count that ran, so it may differ later
    assert capped.replicas.sum() < hpa.replicas.sum()


def test_a_cap_never_goes_below_the_hpa_rule_in_the_same_state() -> None:
    env = ScalingEnv(wavy_load(), "frontend", seed=1, warmup=LOOKBACK)
    env.set_space(SPACE)
    for _ in range(120):
        t = env.raw_targets()
        hpa_n = env.hpa_decision()
        assert hpa_n is not None and t[0] == hpa_n
        for k, rule in enumerate(SPACE.rules[1:], start=1):
            parsed = parse_rule(rule)
            assert parsed is not None
            assert (t[k] <= hpa_n) if parsed[0] == "min" else (t[k] >= hpa_n)
        env.step(0)


def test_the_space_survives_a_saved_policy(tmp_path: Path) -> None:
    path = tmp_path / "capped.pt"
    save_policy(path, reference_net(SPACE, 0.6, seed=0), {"algo": "grpo", "iterations": 0}, SPACE)
    _, meta = load_policy(path)
    assert policy_space(meta) == SPACE and meta["actions"] == list(CAPPED_RULES)


def test_recommend_scaling_decides_in_the_capped_space(tmp_path: Path) -> None:
    from finetune.policy.features import ServiceInfo
    from finetune.policy.recommend import PolicyAdvisor, replayed_hpa_decision
    from tools.backends.sim.cluster import Simulator
    from tools.backends.sim.load import LoadCurve
    from tools.backends.sim_backend import sim_context
    from tools.registry import call_tool

    path = tmp_path / "capped.pt"
    save_policy(path, reference_net(SPACE, 0.6, seed=0),
                {"algo": "grpo", "iterations": 0, "floor": {"tau": 0.5, "utilisation": 0.85}}, SPACE)
    sim = Simulator(LoadCurve.constant(200.0), seed=1)
    sim.step(60)
    sim.load = LoadCurve.constant(900.0)
    sim.step(2)
    d = call_tool("recommend_scaling", {"service": "frontend"},
                  sim_context(sim).with_deps(scaling=PolicyAdvisor(path))).data
    i = sim.idx["frontend"]
    hpa = replayed_hpa_decision(sim.history[:, i], int(sim.replicas[i]), SPACE, ServiceInfo.of("frontend"))
    assert hpa > sim.replicas[i]  # the load rose: following the HPA is a change
    assert d["action"] == "hpa" and d["hpa_replicas"] == hpa
    assert d["recommended_replicas"] == max(hpa, d["safety_floor"]["replicas"])
    assert set(d["probabilities"]) == set(CAPPED_RULES)


def test_a_perturbed_future_scales_only_the_minutes_to_come() -> None:
    from finetune.policy.grpo import future_factors, perturbed

    env = ScalingEnv(wavy_load(), "frontend", seed=1, warmup=LOOKBACK)
    before = env.sim.load.rps.copy()
    f = future_factors(np.random.default_rng(0), 30, 0.15)
    assert len(f) == 30 and np.isclose(f[9], f[29]) and f[0] != f[29]  # reached over 10 minutes, then held
    c = perturbed(env, f)
    m0 = env.sim.minute
    np.testing.assert_array_equal(env.sim.load.rps, before)  # the original is untouched
    np.testing.assert_array_equal(c.sim.load.rps[:m0], before[:m0])
    np.testing.assert_allclose(c.sim.load.rps[m0 : m0 + 30], before[m0 : m0 + 30] * f)
    np.testing.assert_array_equal(c.sim.load.rps[m0 + 30 :], before[m0 + 30 :])


def test_counterfactual_groups_roll_every_member_on_every_future() -> None:
    from finetune.policy import grpo
    from finetune.policy.model import numpy_policy

    envs = []
    for seed in range(2):
        e = ScalingEnv(wavy_load(seed=seed), "frontend", seed=seed, warmup=LOOKBACK)
        e.set_space(SPACE)
        e.floor = SafetyFloor(0.5)
        envs.append(e)
    cfg = grpo.GRPOConfig(reward="counterfactual", continuation="reference", hold=10, horizon=10, group_size=8,
                          decisions_per_env=1, cover=True, futures=3)
    batch = grpo.collect(envs, numpy_policy(reference_net(SPACE, 0.6, seed=0)), np.random.default_rng(0), cfg)
    assert batch.actions.shape == (2, 8)
    # 2 envs x 3 futures x (every action in the group, the HPA's included) rollouts of 10 minutes, then 1 step each
    assert batch.sim_steps == 2 * 3 * SPACE.n * 10 + 2


def test_with_too_little_history_a_capped_policy_still_serves_the_demand_seen(tmp_path: Path) -> None:
    from finetune.policy.features import ServiceInfo
    from finetune.policy.recommend import PolicyAdvisor, replayed_hpa_decision
    from tools.backends.sim.cluster import Simulator
    from tools.backends.sim.load import LoadCurve
    from tools.backends.sim_backend import sim_context
    from tools.registry import call_tool

    path = tmp_path / "capped.pt"
    save_policy(path, reference_net(SPACE, 0.6, seed=0),
                {"algo": "grpo", "iterations": 0, "floor": {"tau": 0.5, "utilisation": 0.85}}, SPACE)
    sim = Simulator(LoadCurve.constant(200.0), seed=1)
    sim.step(15)  # under the 30 minutes the short-term forecast needs
    sim.load = LoadCurve.constant(2000.0)  # frontend saturates far beyond what one HPA step adds
    sim.step(3)
    d = call_tool("recommend_scaling", {"service": "frontend"},
                  sim_context(sim).with_deps(scaling=PolicyAdvisor(path))).data
    i = sim.idx["frontend"]
    hpa = replayed_hpa_decision(sim.history[:, i], int(sim.replicas[i]), SPACE, ServiceInfo.of("frontend"))
    floor = d["safety_floor"]
    assert "too little history" in floor["rule"]
    assert floor["replicas"] > hpa  # the demand seen needs more than the replayed HPA gives
    assert d["recommended_replicas"] == floor["replicas"]
