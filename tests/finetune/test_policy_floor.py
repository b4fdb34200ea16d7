"""Choosing the safety floor's quantile on the training run's validation set: the rule, the sweep, `--apply`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from cli.main import app
from evals import scaling_floor as sf
from finetune.policy import card, grpo
from finetune.policy.families import HELDOUT_FAMILIES, TRAIN_FAMILIES
from finetune.policy.inference import load_policy
from finetune.policy.train import TrainConfig, train


def _row(rh: float, fams: dict[str, tuple[float, int]]) -> dict[str, object]:
    return {"replica_hours": rh, "slo_violation_min": sum(v for _, v in fams.values()),
            "families": {k: {"replica_hours": a, "slo_violation_min": b} for k, (a, b) in fams.items()}}


def test_the_rule_counts_families_no_worse_then_prefers_fewer_replica_hours() -> None:
    ref = _row(20.0, {"a": (10.0, 5), "b": (10.0, 5), "c": (10.0, 5)})
    rows = {"0.5": _row(26.0, {"a": (9.0, 4), "b": (9.0, 8), "c": (8.0, 9)}),  # 1 family
            "0.7": _row(29.0, {"a": (9.5, 4), "b": (9.5, 5), "c": (10.0, 6)}),  # 2 families
            "0.8": _row(29.5, {"a": (9.8, 3), "b": (9.7, 5), "c": (10.0, 6)}),  # 2 families, dearer
            "none": _row(20.0, {"a": (8.0, 0), "b": (6.0, 0), "c": (6.0, 0)})}  # 3, but never a candidate
    assert sf.choose_tau(rows, ref) == "0.7"
    del rows["0.7"]
    assert sf.choose_tau(rows, ref) == "0.8"
    assert sf.choose_tau({"0.5": rows["0.5"], "0.6": rows["0.5"]}, ref) == "0.5"  # full tie: the lower quantile
    with pytest.raises(ValueError, match="no floor quantile"):
        sf.choose_tau({"none": rows["none"]}, ref)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("floor")
    rng = np.random.default_rng(0)
    counts = rng.poisson(60 + 50 * np.sin(2 * np.pi * np.arange(15 * 1440) / 1440))
    (d / "traces").mkdir()
    trace = d / "traces" / "synthetic.csv"
    trace.write_text("minute,requests\n" + "".join(f"{i},{c}\n" for i, c in enumerate(counts)))
    cfg = TrainConfig(iterations=2, episode_iters=2, checkpoint_every=2, eval_every=2, budget=None, bc_episodes=2,
                      bc_minutes=30, validation_days=1, validation_minutes=60, traces=(str(trace),),
                      grpo=grpo.GRPOConfig(group_size=8, horizon=3, envs=2, decisions_per_env=3))
    train(cfg, d / "work", d / "policy.pt", log=lambda _m: None)
    return d / "policy.pt", d / "traces"


def test_sweep_reproduces_the_run_validation_and_never_reads_held_out_data(trained: tuple[Path, Path]) -> None:
    policy, traces = trained
    _, meta = load_policy(policy)
    p = sf.sweep(policy, traces, (0.5, 0.9))
    assert set(p["results"]) == {"grpo_floor_0.5", "grpo_floor_0.9", "grpo_floor_none", "hpa_tuned"}
    fams = set(p["families"]["hpa_tuned"])
    assert fams == {"trace:synthetic.csv", *TRAIN_FAMILIES} and not fams & set(HELDOUT_FAMILIES)
    # at the tau it was trained with, the sweep gives the figures the training run validated its pick on
    picked = next(v for v in meta["validation"] if v["iteration"] == meta["selected_iteration"])
    assert p["results"]["grpo_floor_0.5"]["replica_hours"] == picked["replica_hours"]
    assert p["results"]["grpo_floor_0.5"]["slo_violation_min"] == picked["slo_violation_min"]
    assert p["config"]["hpa_tuned_target"] == meta["validation_tuned_hpa"]["target"]
    # a higher floor never leaves fewer replicas
    assert p["results"]["grpo_floor_0.9"]["replica_hours"] >= p["results"]["grpo_floor_0.5"]["replica_hours"]
    rows = {k.removeprefix("grpo_floor_"): {**v, "families": p["families"][k]}
            for k, v in p["results"].items() if k != "hpa_tuned"}
    assert p["chosen_tau"] == float(sf.choose_tau(rows, {"families": p["families"]["hpa_tuned"]}))


def test_cli_prints_the_table_writes_json_and_applies_the_choice(trained: tuple[Path, Path], tmp_path: Path) -> None:
    src, traces = trained
    policy = tmp_path / "policy.pt"
    policy.write_bytes(src.read_bytes())
    out = tmp_path / "floor.json"
    args = ["eval", "scaling-floor", "--policy", str(policy), "--trace-dir", str(traces), "--taus", "0.6,0.8",
            "--json", str(out), "--apply"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "chosen: floor" in res.output and "tuned HPA" in res.output
    data = json.loads(out.read_text())
    assert data["eval"] == "scaling-floor" and data["chosen_tau"] in (0.6, 0.8)
    before, old = load_policy(src)
    after, meta = load_policy(policy)
    assert meta["floor"]["tau"] == data["chosen_tau"] and meta["floor"]["trained_tau"] == old["floor"]["tau"] == 0.5
    assert meta["floor"]["sweep"]["results"] == data["results"]
    np.testing.assert_array_equal(before.w1, after.w1)  # the weights are untouched
    assert {k: v for k, v in meta.items() if k != "floor"} == {k: v for k, v in old.items() if k != "floor"}
    text = card.render(meta, None, [], "curve.png")  # the model card shows the choice and the ablation
    assert "Safety floor quantile" in text and f"**{data['chosen_tau']:g}** (shipped)" in text
    assert "none (no floor)" in text
    assert ("training used the 0.5 quantile" in text) == (data["chosen_tau"] != 0.5)


def test_bad_input_names_the_field_and_changes_nothing(trained: tuple[Path, Path], tmp_path: Path) -> None:
    src, traces = trained
    before = src.read_bytes()
    for taus in ("0.5,x", "0.5,1.0", ""):
        res = CliRunner().invoke(app, ["eval", "scaling-floor", "--policy", str(src), "--taus", taus, "--apply"])
        assert res.exit_code == 2 and "--taus" in res.output
    res = CliRunner().invoke(app, ["eval", "scaling-floor", "--policy", str(src), "--trace-dir", str(tmp_path),
                                   "--apply"])
    assert res.exit_code == 2 and "--trace-dir" in res.output
    assert src.read_bytes() == before
