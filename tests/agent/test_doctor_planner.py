"""`keel doctor`'s CPU and planner checks: one real planner call in a child process, and a child that dies
in native code reported with the signal and the remedy instead of taking the doctor down."""

from __future__ import annotations

import json
import sys

import pytest
from typer.testing import CliRunner

from agent.cli.main import app
from agent.doctor import check_planner
from agent.planner.probe import probe_planner
from agent.settings import get_settings
from finetune.slm.llama_runtime import FIX


@pytest.mark.slow
def test_doctor_plans_once_in_a_child_and_reports_cpu_build_and_parameters() -> None:
    r = CliRunner().invoke(app, ["doctor", "--json"])
    assert r.exit_code == 0, r.output
    checks = {c["name"]: c for c in json.loads(r.output)["checks"]}
    assert checks["cpu"]["status"] == "ok" and "AMX:" in checks["cpu"]["detail"]
    planner = checks["planner"]
    assert planner["status"] == "ok", planner
    assert "extra_bufts=" in planner["detail"] and "llama-cpp-python 0.3.36" in planner["detail"]
    assert " ms " in planner["detail"] and "n_threads=" in planner["detail"]


def test_a_crash_in_the_planner_child_is_reported_with_the_remedy() -> None:
    result = probe_planner(command=[sys.executable, "-c", "import os; os.abort()"])
    assert not result.ok and "crashed (SIGABRT)" in result.detail


def test_check_planner_names_the_fix_when_the_child_crashes(monkeypatch: pytest.MonkeyPatch) -> None:
    import agent.planner.probe as probe

    crash = probe.ProbeResult(False, "the planner process crashed (SIGSEGV) inside llama.cpp")
    monkeypatch.setattr(probe, "probe_planner", lambda: crash)
    checks = {c.name: c for c in check_planner(get_settings())}
    assert checks["planner"].status == "fail" and checks["planner"].fix == FIX
    assert "SIGSEGV" in checks["planner"].detail


def test_keyword_planner_needs_no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEL_PLANNER", "keyword")
    checks = {c.name: c for c in check_planner(get_settings())}
    assert checks["planner"].status == "ok" and "keyword" in checks["planner"].detail
