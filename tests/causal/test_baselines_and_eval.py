"""Baselines, the eval's figures and JSON, and `keel eval rca` end to end on a small generic dataset."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from causal.baselines import BASELINES
from cli.main import app
from evals import rca as ev
from tests.causal.synthetic import CHAIN, chain_case, write_generic


@pytest.mark.parametrize("name", list(BASELINES))
def test_every_baseline_returns_a_full_ranking(name: str) -> None:
    case = chain_case("stock", seed=1)
    ranking = BASELINES[name](case, case.onset)  # type: ignore[arg-type]
    assert sorted(ranking) == sorted(CHAIN)


def test_random_is_repeatable_per_case() -> None:
    a = chain_case(name="one")
    assert BASELINES["random"](a, 0.0) == BASELINES["random"](a, 0.0)
    assert len({tuple(BASELINES["random"](chain_case(name=f"c{i}"), 0.0)) for i in range(10)}) > 1


def test_scaling_baselines_find_an_obvious_leaf_fault() -> None:
    case = chain_case("db", seed=2)
    for name in ("nsigma", "baro"):
        assert BASELINES[name](case, case.onset)[0] == "db"  # type: ignore[arg-type]


def test_baro_keeps_the_root_with_a_late_onset() -> None:
    """With the onset late the baseline window holds faulty rows; median and IQR barely move."""
    case = chain_case("stock", n=200, onset_row=100, seed=3)
    late = case.onset + 30 * case.step_s  # type: ignore[operator]
    assert BASELINES["baro"](case, late)[0] == "stock"


def test_metrics_are_accuracy_at_k_and_their_average() -> None:
    m = ev.metrics([1, 2, 4, None], [1.0, 2.0, 3.0, 4.0])
    assert m["ac1"] == 0.25 and m["ac3"] == 0.5
    assert m["avg5"] == pytest.approx((0.25 + 0.5 + 0.5 + 0.75 + 0.75) / 5)
    assert m["median_s"] == 2.5 and m["n"] == 4
    assert math.isnan(ev.metrics([], [])["ac1"])


def test_code_level_faults_get_their_own_group() -> None:
    rs = [ev.CaseResult("a", "cpu", "x", False, 0.0, {"keel": 1}, {"keel": 0.1}),
          ev.CaseResult("b", "return", "y", True, 0.0, {"keel": 3}, {"keel": 0.2})]
    s = ev.summarise(rs, ["keel"])
    assert s["overall"]["keel"]["ac1"] == 1.0 and s["overall"]["keel"]["n"] == 1
    assert s["code_level"]["keel"]["ac1"] == 0.0 and s["all"]["keel"]["n"] == 2
    assert list(s)[:2] == ["cpu", "return"]


def test_bad_onset_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="allowed: exact, late60, detect"):
        ev.run_case(chain_case(), "early", ["keel"])


def test_cli_runs_every_method_and_writes_json_and_png(tmp_path: Path) -> None:
    data = write_generic(tmp_path / "toy", [chain_case(r, seed=i, name=f"{r}-{i}") for i, r in enumerate(CHAIN)])
    out = tmp_path / "out" / "rca.json"
    res = CliRunner().invoke(app, ["eval", "rca", "--dataset", "generic", "--path", str(data), "--onset", "detect",
                                   "--json", str(out)])
    assert res.exit_code == 0, res.output
    payload = json.loads(out.read_text())
    assert payload["eval"] == "rca" and payload["dataset"] == "toy"
    assert payload["config"]["onset"] == "detect" and payload["config"]["cases"] == 4
    assert set(payload["results"]) == {"keel", "keel_no_pc", "keel_no_graph", "keel_scores_only", "random", "nsigma",
                                       "baro", "pc_pagerank"}
    for figures in payload["results"].values():
        assert set(figures) == {"ac1", "ac3", "avg5", "median_s"}
    assert payload["results"]["keel"]["ac1"] == 1.0
    assert out.with_suffix(".png").stat().st_size > 1000
    assert "AC@1" in res.output and "keel" in res.output


@pytest.mark.parametrize(("args", "message"), [
    (["--dataset", "other"], "allowed: sockshop, nezha, generic"),
    (["--onset", "soon"], "allowed: exact, late60, detect"),
    (["--methods", "keel,magic"], "unknown ['magic']"),  # checked before the (default) data path is read
    (["--dataset", "nezha"], "--path: required"),
])
def test_cli_bad_input_names_the_option(args: list[str], message: str, tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["eval", "rca", *args, "--json", str(tmp_path / "x.json")])
    assert res.exit_code == 2
    assert message in res.output.replace("\n", " ")
    assert not (tmp_path / "x.json").exists()


def test_methods_can_be_chosen(tmp_path: Path) -> None:
    data = write_generic(tmp_path / "toy", [chain_case("stock", name="s"), chain_case("db", seed=1, name="d")])
    out = tmp_path / "abl.json"
    res = CliRunner().invoke(app, ["eval", "rca", "--dataset", "generic", "--path", str(data),
                                   "--methods", "keel,keel_no_pc,keel_no_graph,keel_scores_only", "--json", str(out)])
    assert res.exit_code == 0, res.output
    results = json.loads(out.read_text())["results"]
    assert list(results) == ["keel", "keel_no_pc", "keel_no_graph", "keel_scores_only"]
    assert all(r["ac1"] == 1.0 for r in results.values())


def test_pc_pagerank_is_not_applicable_beyond_its_size_and_the_eval_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    from causal import baselines

    case = chain_case("stock", seed=1)
    monkeypatch.setattr(baselines, "PC_MAX_METRICS", 5)
    with pytest.raises(baselines.NotApplicable, match="varying metrics"):
        baselines.pc_pagerank(case, case.onset)  # type: ignore[arg-type]
    r = ev.run_case(case, "exact", ["keel", "nsigma", "pc_pagerank"])
    assert "pc_pagerank" not in r.ranks and "varying metrics" in r.not_applicable["pc_pagerank"]
    s = ev.summarise([r], ["keel", "nsigma", "pc_pagerank"])["overall"]
    assert s["pc_pagerank"]["na"] == 1 and s["pc_pagerank"]["n"] == 0 and math.isnan(s["pc_pagerank"]["ac1"])
