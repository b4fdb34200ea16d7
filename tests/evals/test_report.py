"""`keel eval e2e` JSON format and `keel eval all`'s report: provenance for every figure."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cli.main import app
from evals import report as rep

runner = CliRunner()


def test_eval_e2e_writes_design_format_json_and_png(tmp_path: Path) -> None:
    out = tmp_path / "e2e.json"
    r = runner.invoke(app, ["eval", "e2e", "--methods", "rules", "--limit", "2", "--no-details", "--json", str(out)])
    assert r.exit_code == 0, r.output
    data = json.loads(out.read_text())
    assert set(data) == {"eval", "dataset", "config", "results"} and data["eval"] == "e2e"
    metrics = data["results"]["rules"]
    for k in ("diagnosis_acc", "remediation_rate", "slo_recovered_rate", "governance_violations", "mttm_min",
              "wrong_actions"):
        assert isinstance(metrics[k], int | float), k
    assert metrics["scenarios"] == 2 and metrics["governance_violations"] == 0
    assert "approves every pending approval" in data["config"]["approvals"]
    rows = json.loads(out.with_suffix(".scenarios.json").read_text())["rules"]
    assert len(rows) == 2 and all("writes" in row for row in rows)
    assert out.with_suffix(".png").stat().st_size > 1000


def test_bad_arguments_name_the_field(tmp_path: Path) -> None:
    r = runner.invoke(app, ["eval", "e2e", "--methods", "rules,magic"])
    assert r.exit_code == 2 and "--methods" in r.output and "magic" in r.output
    r = runner.invoke(app, ["eval", "e2e", "--scenarios", str(tmp_path / "none")])
    assert r.exit_code == 2 and "scenario directory not found" in r.output


def test_report_says_where_each_figure_comes_from(tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    (results / "e2e.json").write_text(json.dumps({"eval": "e2e", "dataset": "d", "config": {"autonomy": 3},
                                                  "results": {"rules": {"diagnosis_acc": 0.5, "mttm_min": None}}}))
    (results / "e2e.png").write_bytes(b"\x89PNG")
    (results / "e2e-followup.json").write_text(json.dumps({"eval": "e2e", "dataset": "d", "config": {},
                                                           "results": {"keel": {"remediation_rate": 0.25}}}))
    (results / "e2e-followup.png").write_bytes(b"\x89PNG")
    (results / "e2e-followup.scenarios.json").write_text("{}")
    (results / "e2e-followup.variants.json").write_text("{}")  # per-row sidecars are not runs of their own
    (results / "rca.json").write_text("{not json")
    (results / "bench-soak.json").write_text(json.dumps({"bench": "soak", "figures": {"errors": 0}}))
    path, entries = rep.build(["e2e", "rca", "planner"], set(), results, tmp_path / "REPORT.md")
    by = {e.name: e for e in entries}
    assert by["e2e"].source == "read" and by["rca"].source == "failed" and by["planner"].source == "missing"
    assert [p.name for p in by["e2e"].plots] == ["e2e.png"]
    assert by["e2e-followup"].source == "read" and [p.name for p in by["e2e-followup"].plots] == ["e2e-followup.png"]
    assert [e.name for e in entries] == ["planner", "rca", "e2e", "e2e-followup"]
    text = path.read_text()
    assert "| diagnosis_acc | 0.5 |" in text and "| mttm_min | n/a |" in text
    assert "earlier run: `results/e2e.json`" in text and "![e2e](results/e2e.png)" in text
    assert "no results yet" in text and "failed" in text
    assert "| soak | errors | 0 | `results/bench-soak.json`" in text


def test_many_methods_get_one_row_each_and_registered_evals_are_not_variants(tmp_path: Path) -> None:
    wide = {f"m{i}": {"a": i, "b": 2 * i} for i in range(rep.WIDE + 1)}
    lines = rep.results_table(wide)
    assert lines[0] == "| method | a | b |" and len(lines) == 2 + len(wide) and lines[-1] == "| m8 | 8 | 16 |"
    narrow = rep.results_table({"x": {"a": 1}, "y": {"a": 2}})
    assert narrow[0] == "| metric | x | y |" and narrow[2] == "| a | 1 | 2 |"
    for name in ("scaling", "scaling-azure", "scaling-frontier"):
        (tmp_path / f"{name}.json").write_text(json.dumps({"dataset": "d", "results": {"x": {"a": 1}}}))
    _, entries = rep.build(["scaling", "scaling-frontier"], set(), tmp_path, tmp_path / "R.md")
    assert [e.name for e in entries] == ["scaling", "scaling-azure", "scaling-frontier"]
