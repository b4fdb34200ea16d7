"""The residual action space: corrections to a tuned HPA, its d = 0 policy is that HPA, masks, metadata, training."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from finetune.policy import grpo
from finetune.policy.action_space import RESIDUAL_FEATURES, ActionSpace
from finetune.policy.env import ScalingEnv
from finetune.policy.features import N_FEATURES
from finetune.policy.inference import NumpyPolicy, load_policy, policy_space
from finetune.policy.model import numpy_policy, policy_net, save_policy
from finetune.policy.rollout import HPAController, PolicyController, run
from finetune.policy.safety import SafetyFloor
from finetune.policy.train import TrainConfig, reference_net, train, validate, validation_set
from runtime.forecast import LOOKBACK
from tests.finetune.hpa_based import Always, wavy_load

SPACE = ActionSpace.residual(0.7)


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.mark.parametrize("floor", [None, SafetyFloor(0.5)])
def test_the_d0_policy_reproduces_the_hpa_trajectory_exactly(floor: SafetyFloor | None) -> None:
    load = wavy_load()
    hpa = run(HPAController("hpa", 0.7), load, "frontend", LOOKBACK, seed=3)
    d0 = run(PolicyController("d0", Always(0, SPACE.n), floor, SPACE), load, "frontend", LOOKBACK,  # type: ignore[arg-type]
             seed=3)
    assert hpa.replicas.std() > 0  # the HPA does scale on this load, so the comparison means something
    np.testing.assert_array_equal(d0.replicas, hpa.replicas)
    np.testing.assert_array_equal(d0.p99_ms, hpa.p99_ms)


def test_the_warm_start_is_greedily_the_hpa_and_samples_corrections() -> None:
    net = reference_net(SPACE, 0.6, seed=0)
    pol = numpy_policy(net)
    x = np.random.default_rng(0).normal(size=(32, N_FEATURES + len(RESIDUAL_FEATURES)))
    p = pol.probs(x)
    np.testing.assert_allclose(p[:, 0], 0.6, atol=1e-6)
    np.testing.assert_allclose(p[:, 1:], 0.1, atol=1e-6)
    assert (pol.greedy(x) == 0).all()


def test_a_correction_moves_the_hpa_decision_and_the_hpa_keeps_its_own_state() -> None:
    env = ScalingEnv(wavy_load(), "frontend", seed=1, warmup=LOOKBACK)
    env.set_space(SPACE)
    hpa_n = env.hpa_decision()
    assert hpa_n is not None and env.hpa_decision() == hpa_n  # once per minute, cached
    up = SPACE.deltas.index(1)
    assert env.raw_target(up) == min(hpa_n + 1, env.info.max_replicas)
    assert env.observe().shape == (N_FEATURES + len(RESIDUAL_FEATURES),)
    clone = env.clone()
    clone.step(up)
    assert env.hpa is not None and clone.hpa is not env.hpa
    assert env.minute + 1 == clone.minute and env.hpa_decision() == hpa_n  # the original is untouched


def test_the_floor_masks_cuts_below_it_but_never_the_hpas_own_decision() -> None:
    env = ScalingEnv(wavy_load(), "frontend", seed=1, warmup=LOOKBACK)
    env.set_space(SPACE)
    env.floor = SafetyFloor(0.5)
    hpa_n = env.hpa_decision()
    assert hpa_n is not None
    floor = SafetyFloor(0.5).replicas(env.forecast(), env.info)
    assert floor is not None
    allowed = env.action_mask()
    assert allowed[0]  # d = 0 is always allowed
    for a in range(SPACE.n):
        target = env.raw_target(a)
        assert allowed[a] == (target >= min(floor, hpa_n))
    # lift the floor above the HPA: no cut is allowed, no increase is masked, d = 0 still is
    env.floor = SafetyFloor(0.99, utilisation=0.05)
    allowed = env.action_mask()
    assert allowed[0] and all(allowed[a] for a, d in enumerate(SPACE.deltas) if d > 0)
    assert not any(allowed[a] for a, d in enumerate(SPACE.deltas) if d < 0 and env.raw_target(a) < hpa_n)
    assert env.target(0) == hpa_n


def test_the_reference_continuation_hands_back_to_the_hpa() -> None:
    env = ScalingEnv(wavy_load(), "frontend", seed=2, warmup=LOOKBACK)
    env.set_space(SPACE)
    same = grpo.rollout_returns([env, env], [0, 0], None, 10, "reference")
    diff = grpo.rollout_returns([env, env], [SPACE.deltas.index(2), SPACE.deltas.index(-2)], None, 10, "reference")
    assert same[0] == same[1] and diff[0] != diff[1]
    hpa = run(HPAController("hpa", 0.7), wavy_load(), "frontend", LOOKBACK, seed=2)
    clone = env.clone()
    for _ in range(10):
        clone.step(0)
    assert clone.sim.replicas[clone.idx] == hpa.replicas[9]  # ten minutes of d = 0 are ten minutes of the HPA


def test_metadata_round_trip_and_mismatch(tmp_path: Path) -> None:
    net = policy_net(space=SPACE)
    save_policy(tmp_path / "r.pt", net, {"algo": "grpo"}, SPACE)
    pol, meta = load_policy(tmp_path / "r.pt")
    assert policy_space(meta) == SPACE and meta["actions"] == ["hpa", "hpa+1", "hpa-1", "hpa+2", "hpa-2"]
    assert isinstance(pol, NumpyPolicy) and pol.n_inputs == N_FEATURES + len(RESIDUAL_FEATURES)
    with pytest.raises(ValueError, match="outputs"):
        save_policy(tmp_path / "bad.pt", policy_net(), {}, SPACE)
    old = policy_net()
    save_policy(tmp_path / "rel.pt", old, {"algo": "grpo"})
    assert policy_space(load_policy(tmp_path / "rel.pt")[1]) == ActionSpace()


@pytest.mark.parametrize("bad", [dict(kind="sideways"), dict(kind="residual"), dict(deltas=(1, 0)),
                                 dict(hpa_target=0.7), dict(kind="residual", hpa_target=2.0, deltas=(0, 1))])
def test_bad_spaces_are_refused(bad: dict) -> None:
    with pytest.raises(ValueError):
        ActionSpace(**bad)


def test_residual_config_checks() -> None:
    with pytest.raises(ValueError, match="GRPO only"):
        TrainConfig(algo="ppo", action_space="residual")
    with pytest.raises(ValueError, match="continue with"):
        TrainConfig(action_space="residual")  # the default continuation "hold" would bypass the HPA
    assert TrainConfig.for_algo("grpo", action_space="residual").grpo.continuation == "reference"


def test_tiny_residual_run_validates_iteration_0_as_the_tuned_hpa(tmp_path: Path) -> None:
    cfg = dataclasses.replace(
        TrainConfig.for_algo("grpo", action_space="residual", residual_hpa_target=0.7, iterations=2,
                             episode_iters=1, checkpoint_every=1, eval_every=1, budget=None, family_share=1.0,
                             validation_days=0, validation_minutes=90),
        grpo=grpo.GRPOConfig(group_size=8, horizon=3, envs=2, decisions_per_env=2, continuation="reference"))
    meta = train(cfg, tmp_path / "work", tmp_path / "pol.pt", log=lambda _m: None)
    _, saved = load_policy(tmp_path / "pol.pt")
    assert policy_space(saved) == ActionSpace.residual(0.7)
    assert [v["iteration"] for v in meta["validation"]] == [0, 1, 2]
    hpa = validate(None, validation_set([], cfg.seed, 0, 90), cfg.weights, hpa_target=0.7)
    v0 = meta["validation"][0]
    assert v0["families"] == hpa["families"] and v0["mean_reward"] == hpa["mean_reward"]


def test_the_repeat_continuation_holds_the_correction_on_top_of_the_hpa() -> None:
    env = ScalingEnv(wavy_load(), "frontend", seed=4, warmup=LOOKBACK)
    env.set_space(SPACE)
    up = SPACE.deltas.index(1)
    clone = env.clone()
    for _ in range(8):
        hpa_n = clone.hpa_decision()
        assert hpa_n is not None
        clone.step(up)
        assert clone.replicas == min(hpa_n + 1, clone.info.max_replicas)  # every minute, the HPA's count + 1
    held = grpo.rollout_returns([env], [up], None, 8, "repeat")
    once = grpo.rollout_returns([env], [up], None, 8, "reference")
    assert held[0] != once[0]
