"""`keel runbook ...` end to end in-process (typer's runner, a real gate in KEEL_HOME), and the replay that
lets a paused command-line run resume in a new process on an identical simulator."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import yaml
from typer.testing import CliRunner

from agent.context import sim_tools
from agent.runbooks.engine import RunbookEngine
from agent.runbooks.model import Library
from agent.runbooks.replay import replay
from agent.runbooks.store import RunStore
from cli.main import app
from tests.agent.runbooks.test_runbook_fixtures import ALICE, make_gate
from tools.backends.sim.scenario import load_scenario

LEAK = ("seed: 7\nload: {kind: diurnal, peak_rps: 400}\nat: 40m\nfaults:\n"
        "  - {type: memory_leak, service: cartservice, start: 20m, duration: 200m, intensity: 0.5}\n")
runner = CliRunner()


def _scenario(tmp_path: Path) -> Path:
    p = tmp_path / "leak.yaml"
    p.write_text(LEAK)
    return p


def test_list_and_show() -> None:
    r = runner.invoke(app, ["runbook", "list", "--json"])
    assert r.exit_code == 0 and [x["name"] for x in json.loads(r.stdout)][0] == "bad-deploy"
    r = runner.invoke(app, ["runbook", "show", "high-latency", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["steps"][1]["tool"] == "root_cause_analysis"
    r = runner.invoke(app, ["runbook", "show", "nope"])
    assert r.exit_code == 2 and "available: bad-deploy, error-spike" in r.stderr


def test_dry_run_runs_nothing(tmp_path: Path) -> None:
    r = runner.invoke(app, ["runbook", "run", "memory-leak", "--service", "cart", "--dry-run", "--json",
                            "--scenario", str(_scenario(tmp_path))])
    assert r.exit_code == 0, r.output
    plan = json.loads(r.stdout)
    assert plan["dry_run"] and [s["oversight"] for s in plan["steps"]][:4] == ["logging"] * 3 + ["approval"]
    r = runner.invoke(app, ["runbook", "runs"])
    assert "rb-" not in r.stdout
    bad = runner.invoke(app, ["runbook", "run", "memory-leak", "--service", "nosuch", "--dry-run"])
    assert bad.exit_code == 2 and "parameter service: unknown service 'nosuch'" in bad.stderr


def test_run_pause_approve_resume(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("KEEL_PLANNER", "keyword")  # the summary model is not needed: no webhook is configured
    monkeypatch.delenv("KEEL_SLACK_WEBHOOK_URL", raising=False)
    scenario = _scenario(tmp_path)
    r = runner.invoke(app, ["runbook", "run", "memory-leak", "-s", "cart", "--scenario", str(scenario),
                            "--as", "alice", "--json"])
    assert r.exit_code == 0, r.output
    paused = json.loads(r.stdout)
    assert paused["status"] == "paused"
    approval = paused["steps"][-1]["approval_id"]
    assert runner.invoke(app, ["approvals", "approve", approval, "--as", "bob"]).exit_code == 0
    r = runner.invoke(app, ["runbook", "resume", paused["run_id"], "--json"])
    assert r.exit_code == 0, r.output
    done = json.loads(r.stdout)
    assert done["status"] == "completed_with_failures"  # the summary step: no webhook configured
    steps = {s["id"]: s for s in done["steps"]}
    assert steps["restart"]["status"] == "ok" and steps["summary"]["status"] == "error"
    assert "KEEL_SLACK_WEBHOOK_URL" in steps["summary"]["error"]
    assert runner.invoke(app, ["runbook", "resume", "rb-nope"]).exit_code == 2


def test_replay_rebuilds_the_simulator_exactly(tmp_path: Path) -> None:
    books = tmp_path / "books"
    books.mkdir()
    (books / "grow.yaml").write_text(yaml.safe_dump({
        "name": "grow", "description": "scale, wait, restart",
        "parameters": {"service": {"type": "service", "required": True}},
        "steps": [{"id": "scale", "tool": "scale_service", "args": {"service": "{{ params.service }}", "replicas": 3}},
                  {"id": "wait", "wait": "4m"},
                  {"id": "restart", "tool": "restart_service", "args": {"service": "{{ params.service }}"}}]}))
    sc = load_scenario(_scenario(tmp_path))
    sim = sc.build()
    sim.run_until(40)
    engine = RunbookEngine(make_gate(tmp_path), RunStore(tmp_path / "r.db"), Library([books]))
    run = engine.start("grow", {"service": "cartservice"}, ALICE, sim_tools(sim))
    assert run.status == "paused" and sim.minute == 44
    fresh = sc.build()
    fresh.run_until(40)
    assert replay(fresh, run) == 44
    assert fresh.minute == sim.minute and np.array_equal(fresh.history, sim.history)
    assert np.array_equal(fresh.replicas, sim.replicas) and np.array_equal(fresh.leaked, sim.leaked)
    assert [(e.minute, e.kind) for e in fresh.events] == [(e.minute, e.kind) for e in sim.events]
