"""`keel tools call` on a topology of the user's: a write on a name the topology lacks returns unknown_service
with the closest names, runs nothing and leaves a refused decision in the audit log; a near-variant read
resolves and says which name it used."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cli.main import app

TOPOLOGY = """name: ledgerly
entry: authGateway
services:
  - {name: authGateway, capacity_rps: 300, service_ms: 4, replicas: 2}
  - {name: ledgerApi, capacity_rps: 200, service_ms: 8, replicas: 2}
  - {name: journalWriter, capacity_rps: 150, service_ms: 12, replicas: 2}
  - {name: billing-api, capacity_rps: 150, service_ms: 10, replicas: 1}
  - {name: ledgerPg, capacity_rps: 500, service_ms: 2, replicas: 1, max_replicas: 1, protected: true}
edges:
  - {caller: authGateway, callee: ledgerApi}
  - {caller: authGateway, callee: billing-api}
  - {caller: ledgerApi, callee: journalWriter}
  - {caller: journalWriter, callee: ledgerPg}
"""


def test_unknown_write_is_refused_with_the_closest_names(tmp_path: Path) -> None:
    topo = tmp_path / "ledgerly.yaml"
    topo.write_text(TOPOLOGY)
    runner = CliRunner()
    out = runner.invoke(app, ["tools", "call", "restart_service", '{"service":"billing worker"}', "--topology",
                              str(topo)])
    assert out.exit_code == 2, out.output
    env = json.loads(out.stdout)
    assert env["status"] == "error" and env["code"] == "unknown_service"
    assert env["data"]["service"] == "billing worker" and env["data"]["candidates"][0] == "billing-api"
    assert len(env["data"]["candidates"]) == 3 and "did you mean billing-api" in env["error"]
    audit = runner.invoke(app, ["audit", "tail", "-n", "5", "--json"])
    records = json.loads(audit.stdout)
    kinds = [r["kind"] for r in records]
    assert kinds == ["proposal", "decision"], kinds  # no action records
    decision = records[-1]["data"]
    assert decision["oversight"] == "blocking" and decision["reasons"][0].startswith("unknown_service: ")
    read = runner.invoke(app, ["tools", "call", "query_metrics", '{"service":"journal writer","metric":"cpu"}',
                               "--topology", str(topo)])
    assert read.exit_code == 0, read.output
    got = json.loads(read.stdout)
    assert got["status"] == "ok" and got["data"]["service"] == "journalWriter"
    assert got["resolved"] == {"asked": "journal writer", "service": "journalWriter", "how": "normalised",
                               "score": 100.0}
