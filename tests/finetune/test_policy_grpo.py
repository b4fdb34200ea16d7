"""GRPO: group advantages, shared-future rollouts, the clipped/KL update; PPO's GAE; a resumable tiny run."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from finetune.policy import card, grpo, ppo
from finetune.policy.env import ACTIONS, N_ACTIONS, ScalingEnv
from finetune.policy.features import N_FEATURES
from finetune.policy.inference import load_policy
from finetune.policy.model import numpy_policy, policy_net
from finetune.policy.train import TrainConfig, pareto_wins, select_iteration, train


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def test_group_advantages_are_standardised_within_the_group() -> None:
    adv = grpo.group_advantages(np.array([1.0, 2.0, 3.0, 6.0]))
    assert adv.mean() == pytest.approx(0.0, abs=1e-9) and adv.std() == pytest.approx(1.0)
    assert not grpo.group_advantages(np.full(8, -2.5)).any()


def test_rollouts_share_the_future_and_compare_only_the_action() -> None:
    env = ScalingEnv(np.linspace(200, 700, 40), "frontend", seed=2)
    before = (env.minute, env.replicas)
    up, down = ACTIONS.index(2), ACTIONS.index(-2)
    r = grpo.rollout_returns([env, env, env], [up, up, down], None, horizon=5)
    assert r[0] == r[1] and r[0] != r[2]
    assert (env.minute, env.replicas) == before  # rollouts run on clones


def _loaded_env() -> ScalingEnv:
    return ScalingEnv(np.full(200, 500.0), "frontend", seed=1, start_replicas=2)


def test_collect_builds_groups_with_log_probs() -> None:
    torch.manual_seed(0)
    policy = numpy_policy(policy_net())
    cfg = grpo.GRPOConfig(group_size=8, horizon=3, envs=2, decisions_per_env=2)
    batch = grpo.collect([_loaded_env(), _loaded_env()], policy, np.random.default_rng(0), cfg)
    assert batch.obs.shape == (4, N_FEATURES) and batch.actions.shape == (4, 8)
    assert np.isfinite(batch.advantages).all() and (batch.logp_old <= 0).all()
    assert batch.sim_steps > 4


def test_update_moves_probability_towards_positive_advantage() -> None:
    torch.manual_seed(0)
    net, ref = policy_net(), policy_net()
    ref.load_state_dict(net.state_dict())
    x = np.random.default_rng(0).normal(size=(16, N_FEATURES)).astype(np.float32)
    probs = numpy_policy(net).probs(x.astype(np.float64))
    actions = np.tile(np.arange(8) % N_ACTIONS, (16, 1))
    adv = np.where(actions == 1, 1.0, -1.0 / 7).astype(np.float32)
    logp = np.log(np.take_along_axis(probs, actions, 1)).astype(np.float32)
    batch = grpo.GroupBatch(x, actions, adv, logp, np.ones((16, N_ACTIONS), dtype=bool), 0.0, 0, 0)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    cfg = grpo.GRPOConfig(epochs=10)
    stats = grpo.update(net, ref, opt, batch, cfg)
    after = numpy_policy(net).probs(x.astype(np.float64))
    assert after[:, 1].mean() > probs[:, 1].mean()
    assert stats["kl_ref"] > 0.0


def test_gae_matches_a_hand_computation() -> None:
    rewards = np.array([[1.0], [1.0]])
    values = np.array([[0.5], [0.5]])
    adv, ret = ppo.gae(rewards, values, np.array([0.0]), gamma=0.9, lam=0.5)
    d1 = 1.0 + 0.9 * 0.0 - 0.5
    d0 = 1.0 + 0.9 * 0.5 - 0.5
    assert adv[1, 0] == pytest.approx(d1)
    assert adv[0, 0] == pytest.approx(d0 + 0.9 * 0.5 * d1)
    np.testing.assert_allclose(ret, adv + values)


def _trace(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    t = np.arange(15 * 1440)
    counts = rng.poisson(60 + 50 * np.sin(2 * np.pi * t / 1440))
    lines = ["minute,requests"] + [f"{i},{c}" for i, c in enumerate(counts)]
    path = tmp_path / "synthetic.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _tiny(path: Path, algo: str = "grpo", iterations: int = 4) -> TrainConfig:
    return TrainConfig(
        algo=algo, iterations=iterations, episode_iters=2, checkpoint_every=2, eval_every=4,
        budget=300 if algo == "ppo" else None,
        bc_episodes=2, bc_minutes=30, validation_days=1, validation_minutes=60, traces=(str(path),),
        grpo=grpo.GRPOConfig(group_size=8, horizon=3, envs=2, decisions_per_env=3),
        ppo=ppo.PPOConfig(envs=2, rollout=20),
    )


def test_training_resumes_to_the_same_policy(tmp_path: Path) -> None:
    path = _trace(tmp_path)
    quiet = lambda _msg: None  # noqa: E731
    full = train(_tiny(path), tmp_path / "a", tmp_path / "a.pt", log=quiet)
    # the same run interrupted after its first checkpoint, then resumed
    train(_tiny(path, iterations=2), tmp_path / "b", tmp_path / "b-half.pt", log=quiet)
    resumed = train(_tiny(path), tmp_path / "b", tmp_path / "b.pt", log=quiet)
    pa, _ = load_policy(tmp_path / "a.pt")
    pb, _ = load_policy(tmp_path / "b.pt")
    np.testing.assert_allclose(pa.w1, pb.w1)
    np.testing.assert_allclose(pa.w3, pb.w3)
    assert full["sim_steps"] == resumed["sim_steps"] and full["iterations"] == 4
    assert [v["iteration"] for v in full["validation"]] == [0, 4]
    assert full["selected_iteration"] in (0, 4)
    # the model card renders from the saved metadata
    _, meta = load_policy(tmp_path / "a.pt")
    png = card.plot_curve(meta, tmp_path / "curve.png")
    text = card.render(meta, None, [], png.name)
    assert "GRPO" in text and "| 4 |" in text and "curve.png" in text


def test_grpo_stops_once_its_budget_is_spent(tmp_path: Path) -> None:
    cfg = dataclasses.replace(_tiny(_trace(tmp_path), iterations=50), budget=200)
    meta = train(cfg, tmp_path / "g", tmp_path / "g.pt", log=lambda _m: None)
    assert meta["sim_steps"] >= 200 and meta["iterations"] < 50
    assert meta["validation"][-1]["iteration"] == meta["iterations"]  # the last iteration is validated


def test_selection_prefers_the_cheapest_checkpoint_within_the_tuned_hpa_violations() -> None:
    val = [
        {"iteration": 0, "mean_reward": -2.0, "replica_hours": 80.0, "slo_violation_min": 90},
        {"iteration": 25, "mean_reward": -1.0, "replica_hours": 95.0, "slo_violation_min": 40},
        {"iteration": 50, "mean_reward": -1.1, "replica_hours": 90.0, "slo_violation_min": 50},
        {"iteration": 75, "mean_reward": -0.9, "replica_hours": 85.0, "slo_violation_min": 60},
    ]
    ref = {"replica_hours": 100.0, "slo_violation_min": 50}
    assert select_iteration(val, "hpa", ref) == 50
    assert select_iteration(val, "hpa", {"replica_hours": 100.0, "slo_violation_min": 10}) == 25  # none qualifies
    assert select_iteration(val, "best", ref) == 75
    assert select_iteration(val, "last", ref) == 75


def test_pareto_selection_counts_families_no_worse_than_the_tuned_hpa() -> None:
    def v(it: int, rh: float, viol: int, fams: dict[str, tuple[float, int]]) -> dict[str, object]:
        return {"iteration": it, "mean_reward": -1.0, "replica_hours": rh, "slo_violation_min": viol,
                "families": {k: {"replica_hours": a, "slo_violation_min": b} for k, (a, b) in fams.items()}}

    ref = v(-1, 20.0, 10, {"a": (10.0, 5), "b": (10.0, 5)})
    val = [v(0, 18.0, 12, {"a": (9.0, 4), "b": (9.0, 8)}),  # one family no worse
           v(25, 22.0, 9, {"a": (11.0, 4), "b": (11.0, 5)}),  # none, within the violation budget
           v(50, 17.0, 30, {"a": (8.0, 20), "b": (9.0, 10)}),  # none, cheapest, over the budget
           v(75, 19.0, 9, {"a": (9.5, 4), "b": (9.5, 5)})]  # both
    assert [pareto_wins(x, ref) for x in val] == [1, 0, 0, 2]
    assert select_iteration(val, "pareto", ref) == 75
    assert select_iteration(val[:3], "pareto", ref) == 0
    assert select_iteration(val[1:3], "pareto", ref) == 25  # no wins: the violation budget before cost


def test_track_continuation_keeps_the_chosen_headroom_as_load_moves() -> None:
    load = np.concatenate([np.full(80, 300.0), np.full(40, 900.0)])
    env = ScalingEnv(load, "frontend", seed=3, start_replicas=3, warmup=75)
    noop = ACTIONS.index(0)
    hold, track = env.clone(), env.clone()
    r_hold = grpo.rollout_returns([hold], [noop], None, horizon=20, continuation="hold")
    r_track = grpo.rollout_returns([track], [noop], None, horizon=20, continuation="track")
    assert r_track[0] > r_hold[0]  # holding 3 replicas through a 3x rise violates the SLO; tracking scales
    c = env.clone()
    first = env.target(noop) / grpo._in_use(c)
    c.step(noop)
    for _ in range(10):
        c.run_minute(round(first * grpo._in_use(c)))
    assert c.replicas >= 8
    with pytest.raises(ValueError, match="hold, track, repeat, reference, policy"):
        grpo.rollout_returns([env], [noop], None, horizon=2, continuation="guess")


def test_ppo_runs_to_its_budget(tmp_path: Path) -> None:
    meta = train(_tiny(_trace(tmp_path), "ppo"), tmp_path / "p", tmp_path / "p.pt", log=lambda _m: None)
    assert meta["sim_steps"] >= 300 and meta["algo"] == "ppo"
    load_policy(tmp_path / "p.pt")


def test_ray_is_optional_and_fails_clearly_when_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from finetune.policy.distributed import ray_rollouts

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as it does where ray is not installed
    with pytest.raises(RuntimeError, match="not installed"):
        ray_rollouts("127.0.0.1:6379")
