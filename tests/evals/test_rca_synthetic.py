"""The synthetic RCA benchmark: generated topologies in the topology file format, generated labelled cases,
the leave-one-dataset-out choice and the confidence calibration."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from typer.testing import CliRunner

from causal.aggregate import MethodConfig
from cli.main import app
from evals import calibration, rca_protocol
from evals.rca_synthetic import cases as synth
from evals.rca_synthetic.topologies import call_graph, depth_of, generate

SERVICE_KEYS = {"name", "capacity_rps", "service_ms", "replicas", "min_replicas", "max_replicas", "memory_mb",
                "memory_limit_mb"}


@pytest.mark.parametrize(("size", "depth"), [(10, 2), (11, 4), (50, 5), (200, 8), (1000, 8)])
def test_layered_topologies_have_the_size_depth_and_file_format(size: int, depth: int) -> None:
    topo = generate(size, depth, seed=size)
    assert json.loads(json.dumps(topo)) == topo  # plain data: writes as JSON or YAML as it is
    assert set(topo) == {"name", "entry", "services", "edges"}
    names = [s["name"] for s in topo["services"]]
    assert len(names) == size == len(set(names)) and topo["entry"] == names[0]
    assert all(SERVICE_KEYS <= set(s) for s in topo["services"])
    assert all(s["capacity_rps"] > 0 and 1 <= s["min_replicas"] <= s["replicas"] <= s["max_replicas"]
               for s in topo["services"])
    assert all(0 < e["calls"] <= 2 for e in topo["edges"])
    g = call_graph(topo)
    assert nx.is_directed_acyclic_graph(g) and depth_of(topo) == depth
    assert nx.descendants(g, topo["entry"]) == set(names) - {topo["entry"]}  # every service is reachable


def test_topologies_are_seeded_and_inputs_checked() -> None:
    assert generate(30, 4, seed=1) == generate(30, 4, seed=1) != generate(30, 4, seed=2)
    with pytest.raises(ValueError, match="size: got 1; allowed: 2..5000"):
        generate(1, 2)
    with pytest.raises(ValueError, match="depth: got 20"):
        generate(50, 20)


def test_synthetic_cases_vary_and_carry_their_labels() -> None:
    cases = synth.generate(seed=3, cases=24)
    specs = [c.meta["spec"] for c in cases]
    assert min(s["size"] for s in specs) < 30 and max(s["size"] for s in specs) > 60
    assert all(10 <= s["size"] <= 200 and 2 <= s["depth"] <= 8 for s in specs)
    assert len({s["depth"] for s in specs}) >= 4
    assert {s["fault"] for s in specs} == set(synth.FAULT_TYPES)
    assert len({s["sampling"] for s in specs}) >= 3 and len({s["pre"] for s in specs}) >= 2
    assert any(s["herrings"] for s in specs) and any(s["noise"] > 0 for s in specs)
    for c, s in zip(cases, specs, strict=True):
        assert c.root_cause == s["service"] and c.onset is not None
        assert c.step_s == pytest.approx(60.0 * s["sampling"])
        after = (c.metrics.index >= c.onset).sum()
        assert after >= 2 and 0.1 <= s["intensity"] <= 1.0
        if s["dark_service"]:
            assert s["dark_service"] not in c.services and s["dark_service"] in c.all_services
    again = synth.generate(seed=3, cases=2)
    assert np.allclose(again[1].metrics.to_numpy(), cases[1].metrics.to_numpy(), equal_nan=True)


def test_cases_run_on_generated_topologies_of_every_size() -> None:
    from tools.topology import topology_from_dict

    topo = topology_from_dict(generate(60, 6, seed=4))
    case = synth.case_on(topo, 5)
    assert case.root_cause in topo.names and set(case.all_services) == set(topo.names)
    assert case.meta["spec"]["size"] == 60 and case.meta["spec"]["depth"] == 6
    assert case.graph is not None and case.graph.number_of_edges() == len(topo.edges)


def test_leave_one_dataset_out_never_looks_at_the_left_out_dataset() -> None:
    configs = [MethodConfig(scores=("baro",)), MethodConfig(scores=("nsigma",)), MethodConfig(scores=("shift",))]

    def m(a: float) -> dict[str, float]:
        return {"ac1": a, "avg5": a, "ac3": a, "median_s": 0.0, "n": 1}

    # config 0 is best on A and B, config 2 only on C
    table = {(i, d, "exact"): m(v) for (i, d), v in {
        (0, "A"): 0.9, (0, "B"): 0.8, (0, "C"): 0.1, (1, "A"): 0.5, (1, "B"): 0.5, (1, "C"): 0.5,
        (2, "A"): 0.2, (2, "B"): 0.2, (2, "C"): 1.0}.items()}
    out = rca_protocol.lodo(table, configs, ["A", "B", "C"], ["exact"])
    assert out["shipped"]["scores"] == ("baro",)
    assert out["datasets"]["C"]["modes"]["exact"]["left_out"]["ac1"] == 0.1  # chosen on A+B: config 0
    assert out["datasets"]["C"]["modes"]["exact"]["best_possible"]["ac1"] == 1.0
    assert out["datasets"]["A"]["chosen_without"] == configs[2].label()  # B+C: config 2 (0.6) beats 0 (0.45)


def test_calibration_fit_tracks_the_observed_accuracy() -> None:
    rng = np.random.default_rng(0)
    agree = rng.uniform(0, 1, 4000)
    margin = rng.uniform(0, 1, 4000)
    p_true = 1 / (1 + np.exp(-(-2 + 3 * agree + 1.5 * margin)))
    y = rng.random(4000) < p_true
    coef = calibration.fit_calibration([{"agree": a, "margin": b} for a, b in zip(agree, margin, strict=True)], y,
                                       names=("agree", "margin"))
    assert coef["intercept"] == pytest.approx(-2, abs=0.4) and coef["agree"] == pytest.approx(3, abs=0.5)
    rows = calibration.calibration_table(p_true, y)
    assert sum(r["n"] for r in rows) == 4000
    assert calibration.expected_calibration_error(rows) < 0.05
    assert rows[0]["observed"] < rows[-1]["observed"]


def test_eval_rca_runs_the_synthetic_benchmark(tmp_path: Path) -> None:
    out = tmp_path / "syn.json"
    res = CliRunner().invoke(app, ["eval", "rca", "--dataset", "synthetic", "--seed", "1", "--cases", "6",
                                   "--methods", "keel,keel_scores_only,nsigma,baro,random", "--json", str(out)])
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert data["dataset"] == "synthetic" and data["config"]["cases"] == 6 and data["config"]["seed"] == 1
    assert set(data["results"]) == {"keel", "keel_scores_only", "nsigma", "baro", "random"}
    assert sum(r["n"] for r in data["calibration"]) == 6
    assert all(0.0 <= c["confidence"] <= 1.0 for c in data["cases"])
    assert "layered" in data["config"]["topologies"]


def test_bench_rca_times_each_size_and_fits_the_growth(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    res = CliRunner().invoke(app, ["bench", "rca", "--services", "11,40", "--repeats", "2", "--json", str(out)])
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    f = data["figures"]
    assert data["bench"] == "rca" and f["median_s_11"] > 0 and f["median_s_40"] > 0
    assert 0 <= f["ac1_11"] <= 1 and 0 <= f["ac1_40"] <= 1 and "growth_exponent" in f
    bad = CliRunner().invoke(app, ["bench", "rca", "--services", "11,x"])
    assert bad.exit_code == 2 and "--services" in bad.output


def test_rca_protocol_cli_chooses_without_each_dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from causal import loaders
    from tests.causal.synthetic import CHAIN, chain_case

    def fake_load(dataset: str, path: Path) -> list:
        return [chain_case(r, seed=i + (10 if dataset == "nezha" else 0), name=f"{dataset}-{r}")
                for i, r in enumerate(CHAIN)]

    monkeypatch.setattr(loaders, "load", fake_load)
    monkeypatch.setattr(synth, "generate", lambda seed, cases: fake_load("synthetic", Path("."))[:3])
    out = tmp_path / "protocol.json"
    res = CliRunner().invoke(app, ["eval", "rca-protocol", "--sockshop", str(tmp_path), "--nezha", str(tmp_path),
                                   "--cases", "10", "--json", str(out)])
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert set(data["results"]) == {"synthetic", "sockshop", "nezha-ob"}
    for d, figures in data["results"].items():
        assert {"exact_left_out_ac1", "exact_in_sample_avg5", "detect_left_out_avg5"} <= set(figures), d
        assert data["choice"]["datasets"][d]["chosen_without"]
    assert set(data["calibration"]["tables"]) == {"synthetic", "sockshop", "nezha-ob"}
    assert "left out AC@1" in res.output.replace("\n", " ") or "left out" in res.output
    bad = CliRunner().invoke(app, ["eval", "rca-protocol", "--sockshop", str(tmp_path / "missing")])
    assert bad.exit_code == 2 and "--sockshop" in bad.output
