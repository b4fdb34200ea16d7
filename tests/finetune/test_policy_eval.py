"""The scaling eval: every method on one split, the documented JSON, HPA tuning (and its cache), the plot, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cli.main import app
from evals import scaling as ev


def _write_trace(path: Path, minutes: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    t = np.arange(minutes)
    counts = rng.poisson(80 + 60 * np.sin(2 * np.pi * t / 1440))
    path.write_text("minute,requests\n" + "".join(f"{i},{c}\n" for i, c in enumerate(counts)))
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import torch

    from finetune.policy.model import policy_net, save_policy

    d = tmp_path_factory.mktemp("scaling-eval")
    torch.manual_seed(0)
    save_policy(d / "grpo.pt", policy_net(), {"algo": "grpo", "sim_steps": 10})
    save_policy(d / "ppo.pt", policy_net(), {"algo": "ppo", "sim_steps": 10})
    return {
        "grpo": d / "grpo.pt", "ppo": d / "ppo.pt",
        "day": _write_trace(d / "day.csv", 300, 1),
        "train": _write_trace(d / "train.csv", 14 * 1440 + 60, 2),
        "dir": d,
    }


def _spec(files: dict[str, Path], **kw: object) -> ev.EvalSpec:
    base = {"trace": files["day"], "policy": files["grpo"], "ppo_policy": files["ppo"],
            "train_trace": files["train"], "cache_dir": files["dir"] / "cache", "grid": (0.5, 0.7)}
    return ev.EvalSpec(**{**base, **kw})  # type: ignore[arg-type]


def test_every_method_is_reported_in_design_json(files: dict[str, Path]) -> None:
    out = ev.evaluate(_spec(files, service="cartservice"))
    p = out.payload
    assert p["eval"] == "scaling" and "day.csv" in p["dataset"]
    assert set(p["results"]) == {"grpo", "grpo_nofloor", "forecast", "keel", "ppo", "hpa", "hpa_tuned", "static"}
    for r in p["results"].values():
        for metric in ("replica_hours", "slo_violation_min", "p99_ms", "actions"):
            assert isinstance(r[metric], int | float)
    assert p["results"]["keel"] == p["results"]["grpo"]
    assert p["config"]["hpa_tuned_target"] in (0.5, 0.7)
    assert "train.csv training split" in p["config"]["hpa_tuning"]["source"]
    assert "cartservice" in p["config"]["rescaling"]
    assert p["results"]["static"]["actions"] == 0
    assert len(out.runs[0].replicas) == 300
    choices = p["config"]["grpo_choices"]  # every scored minute's choice is counted, by the policy's action names
    assert sum(choices["minutes_per_action"].values()) == 300
    assert set(choices["minutes_per_action"]) <= set(p["config"]["grpo_action_space"].get("rules") or []) | {
        "noop", "+1", "-1", "+2", "-2", "+4", "-4", "hpa", "hpa+1", "hpa-1", "hpa+2", "hpa-2"}
    assert 0 <= choices["minutes_unlike_action0"] <= 300
    json.dumps(p)
    # the second evaluation reuses the cached grid search and says so
    again = ev.evaluate(_spec(files, service="cartservice"))
    assert "cached" in again.payload["config"]["hpa_tuning"]
    assert again.payload["results"] == p["results"]


def test_plot_is_written(files: dict[str, Path], tmp_path: Path) -> None:
    out = ev.evaluate(_spec(files, service="cartservice"))  # the grid search is cached by the first test
    png = ev.plot(out, tmp_path / "scaling.png", "t")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_bad_inputs_name_the_field(files: dict[str, Path]) -> None:
    with pytest.raises(ValueError, match="allowed"):
        ev.evaluate(_spec(files, service="nope"))
    with pytest.raises(ValueError, match="train, test, all"):
        ev.evaluate(_spec(files, split="val"))


def test_cli_writes_json_and_png(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "scaling.json"
    args = ["eval", "scaling", "--trace", str(files["day"]), "--json", str(out), "--policy", str(files["grpo"]),
            "--ppo-policy", str(files["ppo"]), "--train-trace", str(files["train"]), "--service", "cart",
            "--hpa-grid", "0.5,0.7"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert data["config"]["service"] == "cartservice"
    assert out.with_suffix(".png").exists()
    bad = CliRunner().invoke(app, ["eval", "scaling", "--trace", str(files["day"]), "--split", "train"])
    assert bad.exit_code == 2 and "allowed: test, all" in bad.output
    bad_grid = CliRunner().invoke(app, ["eval", "scaling", "--trace", str(files["day"]), "--hpa-grid", "x"])
    assert bad_grid.exit_code == 2 and "--hpa-grid" in bad_grid.output


def test_frontier_runs_every_forecast_controller_beside_the_tuned_hpa(files: dict[str, Path], tmp_path: Path) -> None:
    from evals.scaling_frontier import PRICES, TAUS, frontier, plot_frontier

    spec = _spec(files, trace=files["train"])
    p = frontier(spec, {"grpo": {"replica_hours": 1.0, "slo_violation_min": 0, "p99_ms": 1.0, "actions": 0}})
    res, summary = p["results"], p["summary"]
    assert set(res) == {f"q{t:g}" for t in TAUS} | {f"price{x:g}" for x in PRICES} | {"hpa_tuned", "grpo"}
    tuned = res["hpa_tuned"]
    assert summary["target_box"]["replica_hours_max"] == pytest.approx(0.9 * tuned["replica_hours"], abs=1e-3)
    # a higher forecast quantile never gets fewer replicas, so its replica-hours are at least as high
    rh = [res[f"q{t:g}"]["replica_hours"] for t in TAUS]
    assert rh == sorted(rh) and rh[0] < rh[-1]
    inside = [k for k, v in res.items() if k.startswith(("q", "price"))
              and v["replica_hours"] <= summary["target_box"]["replica_hours_max"]
              and v["slo_violation_min"] <= summary["target_box"]["slo_violation_min_max"]]
    assert summary["points_in_box"] == len(inside)
    assert plot_frontier(p, tmp_path / "f.png").stat().st_size > 0
    with pytest.raises(ValueError, match="no training split"):
        frontier(_spec(files))
    bad = CliRunner().invoke(app, ["eval", "scaling-frontier", "--trace", str(files["day"]), "--no-policies"])
    assert bad.exit_code == 2 and "no training split" in bad.output


def test_held_out_family_runs_every_method_with_the_forecast_band(files: dict[str, Path]) -> None:
    from finetune.policy.families import HELDOUT_FAMILIES

    out = ev.evaluate(_spec(files, trace=None, family="step_shifts", service="cartservice"))
    p = out.payload
    assert p["dataset"].startswith("family:step_shifts") and "step_shifts" in HELDOUT_FAMILIES
    assert set(ev.METHODS) <= set(p["results"]) and p["config"]["family_seed"] == ev.FAMILY_SEED
    assert len(out.runs[0].replicas) == ev.FAMILY_DAYS * 1440
    nh = p["config"]["next_hour_forecast"]
    assert out.band is not None and nh["hours"] == out.band.hours >= 24 and 0.0 <= nh["p90_coverage"] <= 1.0
    assert (out.band.p90 >= out.band.p50).all()
    assert "0.5 quantile" in p["config"]["safety_floor"]  # the test policy has no floor in its metadata: the default
    bad = CliRunner().invoke(app, ["eval", "scaling", "--family", "sine"])
    assert bad.exit_code == 2 and "allowed: diurnal" in bad.output


def test_rollout_eval_cuts_the_bad_policy_and_audits_every_proposal(files: dict[str, Path], tmp_path: Path) -> None:
    from evals import scaling_rollout as sr
    from finetune.policy.gradual import RolloutConfig
    from governance.audit import SqliteAuditStore

    p = sr.evaluate(_spec(files), tmp_path / "audit.db", RolloutConfig(window=3))
    bad, shipped = p["results"]["rollout_bad"], p["results"]["rollout_shipped"]
    assert bad["final_share"] == 0.0 and bad["policy_decisions"] < shipped["policy_decisions"] + 300
    assert p["config"]["audit"]["verified"] and p["config"]["audit"]["records"] == 2 * 300
    with SqliteAuditStore(tmp_path / "audit.db") as store:
        recs = list(store.records())
    assert {json.loads(r.data_json)["controller"] for r in recs} <= {"policy", "hpa"}
    assert all(r.kind == "proposal" for r in recs)
    assert sr.plot(p, tmp_path / "r.png").stat().st_size > 0
