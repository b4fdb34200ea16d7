"""The counterfactual GRPO reward: corrections scored against the HPA's own continuation; the shared HPA tuning."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from evals import scaling as ev
from finetune.policy import grpo, hpa_tuning
from finetune.policy import train as train_mod
from finetune.policy.action_space import ActionSpace
from finetune.policy.env import ScalingEnv
from finetune.policy.hpa import TUNING_GRID
from finetune.policy.inference import load_policy, policy_space
from finetune.policy.model import numpy_policy
from finetune.policy.reward import RewardWeights
from finetune.policy.rollout import HPAController, run
from finetune.policy.traffic import Trace
from finetune.policy.train import TrainConfig, reference_net, select_iteration, train, validate, validation_set
from runtime.forecast import LOOKBACK

SPACE = ActionSpace.residual(0.65)
CF = grpo.GRPOConfig(group_size=8, horizon=12, hold=4, envs=2, decisions_per_env=2, continuation="reference",
                     reward="counterfactual", violation_penalty=40.0, violation_credit=10.0)


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def _env(level: float, n: int = 200, seed: int = 5) -> ScalingEnv:
    t = np.arange(n + LOOKBACK)
    load = level * (1.0 + 0.05 * np.sin(t / 7.0))
    env = ScalingEnv(load, "frontend", seed=seed, warmup=LOOKBACK)
    env.set_space(SPACE)
    for _ in range(10):
        env.step(0)
    return env


def test_the_returns_are_replica_minutes_saved_with_an_asymmetric_violation_term() -> None:
    r = grpo.counterfactual_returns(np.array([100.0, 90.0, 95.0, 110.0]), np.array([2.0, 3.0, 2.0, 0.0]),
                                    100.0, 2.0, CF)
    assert r.tolist() == [0.0, 10.0 - 40.0, 5.0, -10.0 + 2 * 10.0]


def test_the_d0_rollout_is_the_hpa_alone_from_the_cloned_state() -> None:
    env = _env(400.0)
    rm, vm = grpo.rollout_outcomes([env], [0], 12, 4)
    clone = env.clone()
    want = 0.0
    for _ in range(12):
        n = clone.hpa_decision()
        clone.step(0)
        assert clone.replicas == n
        want += clone.replicas
    assert rm[0] == want and vm[0] >= 0
    assert env.minute == LOOKBACK + 10  # the start state is untouched


def test_a_held_cut_saves_at_light_load_and_costs_violations_at_heavy_load() -> None:
    down = SPACE.deltas.index(-2)
    light = _env(150.0)
    rm, vm = grpo.rollout_outcomes([light, light], [0, down], 12, 4)
    r = grpo.counterfactual_returns(rm, vm, rm[0], vm[0], CF)
    assert rm[1] < rm[0] and r[1] > 0  # fewer replica-minutes, no extra violation at a light load
    info = light.info
    heavy_rps = info.capacity * info.max_replicas * 0.8 / light.sim.topology.arrays.visits[light.idx]
    heavy = _env(heavy_rps)
    rm, vm = grpo.rollout_outcomes([heavy, heavy], [0, down], 12, 4)
    assert vm[1] > vm[0]  # cutting two replicas below the HPA near full load adds violation minutes
    assert grpo.counterfactual_returns(rm, vm, rm[0], vm[0], CF)[1] < 0


def test_a_counterfactual_batch_gives_d0_members_a_zero_return() -> None:
    envs = [_env(300.0, seed=s) for s in (1, 2)]
    net = reference_net(SPACE, 0.6, 0)
    seen: list[tuple[np.ndarray, np.ndarray]] = []
    real = grpo.counterfactual_returns

    def spy(rm: np.ndarray, vm: np.ndarray, base_r: float, base_v: float, cfg: Any) -> np.ndarray:
        out = real(rm, vm, base_r, base_v, cfg)
        seen.append((rm, out))
        return out

    grpo.counterfactual_returns = spy  # type: ignore[assignment]
    try:
        batch = grpo.collect(envs, numpy_policy(net), np.random.default_rng(0), CF)
    finally:
        grpo.counterfactual_returns = real  # type: ignore[assignment]
    assert batch.actions.shape == (4, CF.group_size)
    for g, (_, r) in zip(batch.actions, seen, strict=True):
        assert np.all(r[g == 0] == 0.0)  # d = 0 is the counterfactual itself
    assert np.allclose(batch.advantages.mean(axis=1), 0.0, atol=1e-5)


def test_counterfactual_config_checks() -> None:
    with pytest.raises(ValueError, match="reward must be one of"):
        grpo.GRPOConfig(reward="relative")
    with pytest.raises(ValueError, match="hold must be in"):
        grpo.GRPOConfig(horizon=10, hold=11)
    with pytest.raises(ValueError, match="action_space='residual'"):
        TrainConfig(grpo=grpo.GRPOConfig(reward="counterfactual"))
    with pytest.raises(ValueError, match="continuation 'reference'"):
        TrainConfig(action_space="residual", grpo=grpo.GRPOConfig(reward="counterfactual", continuation="repeat"))
    with pytest.raises(ValueError, match="in-process"):
        grpo.collect([_env(300.0)], numpy_policy(reference_net(SPACE, 0.6, 0)), np.random.default_rng(0), CF,
                     rollout_fn=grpo.rollout_returns)


def test_the_base_hpa_is_tuned_by_the_evals_own_function_with_the_evals_arguments(
        monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, ...]] = []

    def fake(tr: Trace, service: str, seed: int = 0, weights: RewardWeights | None = None,
             grid: tuple[float, ...] = TUNING_GRID, cache_dir: Path | None = None,
             source: str | None = None) -> tuple[float, dict[str, Any]]:
        calls.append((tr.name, service, seed, weights, tuple(grid)))
        return 0.55, {"source": f"{tr.name} training split", "criterion": hpa_tuning.CRITERION}

    monkeypatch.setattr(train_mod, "tune_on_training_split", fake)
    monkeypatch.setattr(ev, "tune_on_training_split", fake)
    tr = Trace(np.full(21 * 1440, 100.0), 0, "three-weeks")
    base = TrainConfig(action_space="residual", grpo=grpo.GRPOConfig(continuation="reference")).base_hpa([tr])
    target, _ = ev.tune_hpa(ev.EvalSpec(trace=Path("unused")), tr)
    assert base is not None and base["target"] == target == 0.55
    assert calls[0] == calls[1] == ("three-weeks", "frontend", 0, RewardWeights(), TUNING_GRID)
    assert TrainConfig(action_space="residual", residual_hpa_target=0.7,
                       grpo=grpo.GRPOConfig(continuation="reference")).base_hpa([tr])["target"] == 0.7  # type: ignore[index]
    assert TrainConfig().base_hpa([tr]) is None


def test_residual_selection_is_against_the_base_hpa_ties_to_fewer_replica_hours() -> None:
    ref = {"families": {"a": {"replica_hours": 10.0, "slo_violation_min": 2}, "b": {"replica_hours": 5.0,
                                                                                 "slo_violation_min": 0}}}
    v0 = {"iteration": 0, "replica_hours": 15.0, **ref}
    cheaper_worse = {"iteration": 20, "replica_hours": 14.0, "families": {
        "a": {"replica_hours": 9.0, "slo_violation_min": 2}, "b": {"replica_hours": 5.0, "slo_violation_min": 1}}}
    assert select_iteration([v0, cheaper_worse], "pareto", ref, residual=True) == 0
    cheaper_ok = {"iteration": 40, "replica_hours": 14.5, "families": {
        "a": {"replica_hours": 9.5, "slo_violation_min": 1}, "b": {"replica_hours": 5.0, "slo_violation_min": 0}}}
    assert select_iteration([v0, cheaper_worse, cheaper_ok], "pareto", ref, residual=True) == 40


def test_tiny_counterfactual_run_records_its_base_and_validates_iteration_0_as_that_hpa(tmp_path: Path) -> None:
    cfg = dataclasses.replace(
        TrainConfig.for_algo("grpo", action_space="residual", residual_hpa_target=0.65, iterations=2,
                             episode_iters=1, checkpoint_every=1, eval_every=1, budget=None, family_share=1.0,
                             validation_days=0, validation_minutes=90),
        grpo=dataclasses.replace(CF, horizon=3, hold=2))
    meta = train(cfg, tmp_path / "work", tmp_path / "pol.pt", log=lambda _m: None)
    _, saved = load_policy(tmp_path / "pol.pt")
    assert policy_space(saved) == SPACE and saved["residual_hpa"]["target"] == 0.65
    hpa = validate(None, validation_set([], cfg.seed, 0, 90), RewardWeights(), hpa_target=0.65)
    def figures(v: dict[str, Any]) -> dict[str, tuple[float, float]]:
        return {f: (x["replica_hours"], x["slo_violation_min"]) for f, x in v["families"].items()}

    assert figures(meta["validation_tuned_hpa"]) == figures(meta["validation"][0]) == figures(hpa)
    assert meta["config"]["grpo"]["reward"] == "counterfactual"


def test_the_hpa_tuning_is_cached_by_its_inputs(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    tr = Trace(200 + 80 * rng.random(14 * 1440), 0, "two-weeks")
    grid = (0.5, 0.8)
    a, prov = hpa_tuning.tune_on_training_split(tr, "frontend", grid=grid, cache_dir=tmp_path)
    b, again = hpa_tuning.tune_on_training_split(tr, "frontend", grid=grid, cache_dir=tmp_path)
    assert a == b and "cached" in again and "cached" not in prov
    lo, hi = hpa_tuning.split_bounds(len(tr), "train")
    load, clock0 = hpa_tuning.window(tr, lo, hi, hpa_tuning.entry_scale(tr.counts, "frontend"))
    best = max(grid, key=lambda t: run(HPAController("h", t), load, "frontend", LOOKBACK, clock0, 0,
                                       RewardWeights()).summary(RewardWeights())["mean_reward"])
    assert a == best


def test_covered_groups_hold_every_allowed_action_and_keep_the_samples_before_them() -> None:
    g = np.array([0, 2, 0, 0, 0, 0, 0, 0])
    allowed = np.array([True, True, True, False, True])
    out = grpo.cover_group(g, allowed)
    assert set(out.tolist()) == {0, 1, 2, 4} and out[:6].tolist() == [0, 2, 0, 0, 0, 0] and 3 not in out
    assert grpo.cover_group(np.array([0, 1, 2, 4, 0]), allowed).tolist() == [0, 1, 2, 4, 0]  # nothing missing
    with pytest.raises(ValueError, match="cannot hold"):
        grpo.cover_group(np.array([0, 0]), allowed)
    envs = [_env(300.0, seed=s) for s in (1, 2)]
    batch = grpo.collect(envs, numpy_policy(reference_net(SPACE, 0.99, 0)), np.random.default_rng(0),
                         dataclasses.replace(CF, cover=True))
    for acts, m in zip(batch.actions, batch.masks, strict=True):
        assert set(np.flatnonzero(m).tolist()) <= set(acts.tolist())


OWN = ActionSpace.residual(0.65, anchor="own")


def test_an_hpa_anchored_on_its_own_decisions_is_the_hpa_under_d0_and_an_offset_under_a_held_cut() -> None:
    load = 300 + 200 * np.sin(np.arange(400 + LOOKBACK) / 40.0) ** 2
    hpa = run(HPAController("hpa", 0.65), load, "frontend", LOOKBACK, seed=2)
    env = ScalingEnv(load, "frontend", seed=2, warmup=LOOKBACK)
    env.set_space(OWN)
    same = ScalingEnv(load, "frontend", seed=2, warmup=LOOKBACK)
    same.set_space(OWN)
    down = OWN.deltas.index(-1)
    got = []
    for _ in range(400):
        env.step(0)
        got.append(env.replicas)
    assert got == hpa.replicas.astype(int).tolist()  # d = 0 throughout: the HPA exactly
    for _ in range(60):  # a cut held every minute stays one below the HPA's own trajectory (no compounding)
        n = same.hpa_decision()
        same.step(down)
        assert same.replicas == max(n - 1, same.info.min_replicas)  # type: ignore[operator]
    assert ActionSpace.from_meta(OWN.to_meta()) == OWN
    assert ActionSpace.from_meta({"kind": "residual", "deltas": [0, 1], "hpa_target": 0.7}).anchor == "replicas"
    with pytest.raises(ValueError, match="anchor must be one of"):
        ActionSpace.residual(0.65, anchor="elsewhere")
