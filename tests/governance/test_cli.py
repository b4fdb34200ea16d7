"""The governance command line: explain, tools call through the gate, approvals, audit verify/tail/export, bench."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import approvals_cmd, audit_cmd, bench_cmd, governance_cmd, tools_cmd

runner = CliRunner()


def run(app, *args: str) -> tuple[int, str]:  # noqa: ANN001
    """Exit code and everything printed (stdout and stderr)."""
    r = runner.invoke(app, list(args))
    return r.exit_code, r.output


def run_json(app, *args: str) -> tuple[int, object]:  # noqa: ANN001
    """Exit code and standard output parsed as JSON."""
    r = runner.invoke(app, list(args))
    return r.exit_code, json.loads(r.stdout)


def explain(*args: str) -> dict:
    code, out = run(governance_cmd.app, "explain", *args, "--json")
    assert code == 0, out
    return json.loads(out)


# ------------------------------------------------------------------ explain


def test_explain_prints_the_design_format() -> None:
    d = explain("scale_service", '{"service":"cart","replicas":3}')
    assert list(d) == ["risk", "oversight", "reasons", "checks"]
    assert (d["risk"], d["oversight"]) == ("medium", "notification")
    assert set(d["checks"]) == {"transparency", "accountability", "safety"}


@pytest.mark.parametrize(("level", "oversight"), [(0, "approval"), (1, "approval"), (2, "approval"),
                                                  (3, "notification"), (4, "logging"), (5, "logging")])
def test_explain_follows_the_autonomy_level(level: int, oversight: str) -> None:
    d = explain("scale_service", '{"service":"cart","replicas":3}', "--autonomy", str(level))
    assert d["oversight"] == oversight


@pytest.mark.parametrize("level", range(6))
def test_explain_blocks_critical_at_every_level(level: int) -> None:
    d = explain("scale_service", '{"service":"cart","replicas":0}', "--autonomy", str(level))
    assert (d["risk"], d["oversight"]) == ("critical", "blocking")


def test_explain_uses_autonomy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEL_AUTONOMY", "5")
    assert explain("restart_service", '{"service":"payment"}')["oversight"] == "notification"


def test_explain_human_output() -> None:
    code, out = run(governance_cmd.app, "explain", "restart_service", '{"service":"redis"}')
    assert code == 0 and "critical" in out and "blocking" in out and "protected" in out


@pytest.mark.parametrize(("args", "message"), [
    (["nuke", "{}"], "unknown tool 'nuke'"),
    (["scale_service", "{bad"], "malformed JSON"),
    (["scale_service", '{"service":"cart"}'], "replicas: required"),
    (["get_topology", "{}", "--role", "root"], "--role"),
])
def test_explain_bad_input(args: list[str], message: str) -> None:
    code, out = run(governance_cmd.app, "explain", *args)
    assert code == 2 and message in out


def test_policy_command() -> None:
    code, out = run(governance_cmd.app, "policy", "--json")
    assert code == 0 and json.loads(out)["oversight"]["3"]["medium"] == "notification"


# ------------------------------------------------------------------ tools call through the gate, approvals


def test_tools_call_writes_go_through_the_gate(_keel_home: Path) -> None:
    code, out = run(tools_cmd.app, "call", "scale_service", '{"service":"cart","replicas":3}')
    assert code == 0 and json.loads(out)["status"] == "ok"
    code, out = run(tools_cmd.app, "call", "scale_service", '{"service":"cart","replicas":0}')
    assert code == 1 and json.loads(out)["status"] == "denied"
    assert (_keel_home / "audit.db").is_file()
    code, out = run(audit_cmd.app, "tail", "--json", "-n", "100")
    kinds = [r["kind"] for r in json.loads(out)]
    assert kinds == ["proposal", "decision", "action_started", "action_result", "proposal", "decision"]
    assert json.loads(out)[0]["actor"] == "cli"


def test_approvals_from_the_command_line() -> None:
    code, env = run_json(tools_cmd.app, "call", "restart_service", '{"service":"payment"}')
    assert code == 0 and isinstance(env, dict) and env["status"] == "pending_approval"
    aid = env["data"]["approval_id"]
    code, out = run(approvals_cmd.app, "list", "--json")
    assert [a["id"] for a in json.loads(out)] == [aid]
    code, out = run(approvals_cmd.app, "approve", aid, "--as", "cli")
    assert code == 1 and "self_approval" in out
    code, out = run(approvals_cmd.app, "approve", aid, "--as", "olga", "--role", "operator")
    assert code == 1 and "forbidden" in out
    code, out = run(approvals_cmd.app, "approve", aid, "--as", "bob", "--run")
    assert code == 0 and '"restarted_replicas": 1' in out
    code, out = run(approvals_cmd.app, "deny", aid, "--as", "carol")
    assert code == 1 and "already_decided" in out
    code, out = run(approvals_cmd.app, "list", "--status", "approved", "--json")
    assert json.loads(out)[0]["decided_by"] == "bob"
    code, out = run(approvals_cmd.app, "list", "--status", "maybe")
    assert code == 2 and "allowed" in out


# ------------------------------------------------------------------ audit verify / tail / export


def _log() -> Path:
    run(tools_cmd.app, "call", "scale_service", '{"service":"cart","replicas":3}')
    run(tools_cmd.app, "call", "rollback_deployment", '{"service":"checkout"}')
    return audit_cmd.db_path(None)


def test_verify_ok_and_json() -> None:
    db = _log()
    code, out = run(audit_cmd.app, "verify")
    assert code == 0 and "ok" in out and "6 records" in out
    code, out = run(audit_cmd.app, "verify", "--db", str(db), "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"] and report["records"] == 6 and report["broken"] is None


def test_verify_names_the_first_broken_record() -> None:
    db = _log()
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("DROP TRIGGER audit_log_no_update")
    conn.execute("UPDATE audit_log SET data = '{}' WHERE seq = 3")
    conn.execute("UPDATE audit_log SET actor = 'x' WHERE seq = 5")
    code, out = run(audit_cmd.app, "verify")
    assert code == 1 and "record 3" in out and "hash mismatch" in out
    code, out = run(audit_cmd.app, "verify", "--json")
    assert code == 1 and json.loads(out)["broken"]["seq"] == 3


def test_verify_lists_incomplete_actions() -> None:
    from governance.audit import SqliteAuditStore
    from governance.chain import NewRecord

    db = _log()
    with SqliteAuditStore(db) as store:
        store.append(NewRecord("action_started", {}, action_id="cut-short", tool="restart_service", service="frontend"))
    code, out = run(audit_cmd.app, "verify", "--json")
    assert code == 0 and [i["action_id"] for i in json.loads(out)["incomplete"]] == ["cut-short"]
    code, out = run(audit_cmd.app, "verify")
    assert "incomplete" in out and "cut-short" in out


def test_verify_expect_head() -> None:
    _log()
    head = json.loads(run(audit_cmd.app, "verify", "--json")[1])["head"]
    assert run(audit_cmd.app, "verify", "--expect-head", f"{head['seq']}:{head['hash']}")[0] == 0
    code, out = run(audit_cmd.app, "verify", "--expect-head", f"{head['seq']}:{'0' * 64}")
    assert code == 1 and "checkpoint mismatch" in out
    code, out = run(audit_cmd.app, "verify", "--expect-head", "12:abc")
    assert code == 2 and "SEQ:HASH" in out


def test_missing_log(tmp_path: Path) -> None:
    code, out = run(audit_cmd.app, "verify", "--db", str(tmp_path / "none.db"))
    assert code == 2 and "no audit log" in out


def test_tail_and_export(tmp_path: Path) -> None:
    _log()
    code, out = run(audit_cmd.app, "tail", "-n", "2", "--json")
    assert [r["seq"] for r in json.loads(out)] == [5, 6]
    code, out = run(audit_cmd.app, "tail")
    assert code == 0 and "rollback_deployment" in out
    code, out = run(audit_cmd.app, "export", "--jsonl")
    lines = [json.loads(x) for x in out.splitlines()]
    assert [r["seq"] for r in lines] == [1, 2, 3, 4, 5, 6]
    assert all(set(r) >= {"seq", "ts", "kind", "data", "prev_hash", "hash"} for r in lines)
    assert lines[1]["prev_hash"] == lines[0]["hash"]
    dest = tmp_path / "out" / "audit.jsonl"
    code, _ = run(audit_cmd.app, "export", "--jsonl", "--out", str(dest), "--after-seq", "4")
    assert code == 0 and len(dest.read_text().splitlines()) == 2


# ------------------------------------------------------------------ bench


def test_bench_audit_writes_figures(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    code, text = run(bench_cmd.app, "audit", "--appends", "20", "--threads", "4", "--verify-records", "2000",
                     "--repeats", "1", "--json", str(out))
    assert code == 0, text
    data = json.loads(out.read_text())
    assert data["bench"] == "audit"
    assert set(data["figures"]) == {"appends_per_s", "appends_single_per_s", "appends_normal_per_s",
                                    "records_per_commit", "appenders", "verify_per_s", "verify_cpu_per_s",
                                    "fsync_per_s"}
    assert all(v > 0 for v in data["figures"].values())
    assert data["figures"]["appenders"] == 4 and data["figures"]["records_per_commit"] >= 1
