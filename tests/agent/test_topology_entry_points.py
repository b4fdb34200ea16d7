"""Every entry point takes a topology: the CLI commands' --topology, the server's context, the e2e harness."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from agent.cli.main import app
from agent.context import build_context
from agent.settings import get_settings
from evals.e2e.harness import run_scenario
from evals.e2e.rules import RulesResponder
from evals.e2e.scenarios import DEFAULT_DIR, load_e2e
from tools.services import current_topology

runner = CliRunner()
SCENARIOS = DEFAULT_DIR.parent


def keel(*args: str) -> tuple[int, str]:
    r = runner.invoke(app, list(args))
    return r.exit_code, r.output


def test_tools_call_on_sock_shop() -> None:
    code, out = keel("tools", "call", "query_metrics", '{"service":"orders","metric":"cpu"}', "--topology",
                     "sock-shop")
    assert code == 0, out
    data = json.loads(out)["data"]
    assert data["service"] == "orders" and 0 < data["current"] < 100
    code, out = keel("tools", "call", "query_metrics", '{"service":"checkoutservice","metric":"cpu"}',
                     "--topology", "bank-of-anthos")
    assert code == 2 and "allowed: frontend, userservice, contacts" in json.loads(out)["error"]


def test_tools_call_writes_are_governed_by_the_topologys_protection() -> None:
    code, out = keel("tools", "call", "restart_service", '{"service":"ledger-db"}', "--topology", "bank-of-anthos")
    assert code == 1 and json.loads(out)["status"] == "denied", out


def test_sim_run_on_a_topology_file(tmp_path: Path) -> None:
    topo = tmp_path / "shop.yaml"
    topo.write_text(yaml.safe_dump({"name": "two", "entry": "web", "services": [
        {"name": "web", "capacity_rps": 300, "service_ms": 5, "replicas": 2},
        {"name": "db", "capacity_rps": 900, "service_ms": 1}], "edges": [{"caller": "web", "callee": "db"}]}))
    code, out = keel("sim", "run", "--topology", str(topo), "--minutes", "30", "--json")
    assert code == 0, out
    got = json.loads(out)
    assert got["topology"] == "two" and set(got["metrics"]) == {"web", "db"}
    assert len(got["metrics"]["db"]["cpu"]) == 30


def test_bad_topology_and_mismatched_scenario_are_clear_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nentry: gateway\nservices:\n- {name: web, capacity_rps: 1, service_ms: 1}\n")
    code, out = keel("sim", "run", "--topology", str(bad))
    assert code == 2 and "bad.yaml" in out and "entry" in out and "gateway" in out
    code, out = keel("sim", "run", "--topology", "nope")
    assert code == 2 and "unknown topology 'nope'" in out
    code, out = keel("sim", "run", "--topology", "sock-shop", "--scenario",
                     str(SCENARIOS / "e2e-topologies" / "boa-crash-ledgerwriter.yaml"))
    assert code == 2 and "bank-of-anthos" in out
    shop_file = str(DEFAULT_DIR / "latency-redis-cart.yaml")
    code, out = keel("sim", "run", "--topology", "sock-shop", "--scenario", shop_file)
    assert code == 2 and "unknown service 'redis-cart'" in out  # a file naming no topology is read on sock-shop


def test_demo_on_bank_of_anthos() -> None:
    code, out = keel("demo", "--topology", "bank-of-anthos")
    assert code == 0, out
    assert "balancereader's p99 rose the most" in " ".join(out.split())


def test_server_context_on_a_topology() -> None:
    live = build_context(get_settings(topology="sock-shop"), live=False)
    try:
        assert live.info["topology"] == "sock-shop" and current_topology().name == "sock-shop"
        assert set(live.tools.sim.services) >= {"front-end", "orders", "carts-db"}
        assert ("orders", "payment") in live.tools.topology.edges()
    finally:
        live.close()
    with pytest.raises(ValueError, match="runs on topology bank-of-anthos, not sock-shop"):
        build_context(get_settings(topology="sock-shop"), SCENARIOS / "demo-bank-of-anthos.yaml", live=False)
    with pytest.raises(ValueError, match="unknown service 'redis-cart'"):
        build_context(get_settings(topology="sock-shop"), DEFAULT_DIR / "latency-redis-cart.yaml", live=False)


def test_e2e_harness_runs_a_scenario_on_another_topology(tmp_path: Path) -> None:
    e = load_e2e(SCENARIOS / "e2e-topologies" / "sockshop-crash-payment.yaml")
    s = run_scenario(e, RulesResponder(), tmp_path, get_settings())
    assert s.diagnosis_correct and s.remediation_correct and s.governance_violations == 0, s
    assert current_topology().name == "online-boutique"  # the scenario's topology does not outlive it


def test_governance_bounds_come_from_the_topology() -> None:
    code, out = keel("governance", "explain", "scale_service", '{"service":"orders","replicas":3}', "--json")
    assert code == 2 and "unknown service 'orders'" in out  # the default topology has no orders
    code, out = keel("tools", "call", "scale_service", '{"service":"orders","replicas":20}', "--topology", "sock-shop")
    assert code == 1 and json.loads(out)["status"] == "denied", out  # orders' max_replicas is 8: critical
    assert "above the maximum" in out or "beyond" in out or "max" in out, out


def test_answers_and_summaries_find_the_topologys_names() -> None:
    from agent.answer import services_in
    from agent.summary import narrative
    from tools.services import use_topology
    from tools.topology import load_topology

    text = "orders waits on payment; carts-db and front-end are fine, paymentservice is not here"
    with use_topology(load_topology("sock-shop")):
        assert services_in(text) == {"orders", "payment", "carts-db", "front-end"}
        assert narrative.services_in(text) == {"orders", "payment", "carts-db", "front-end"}
    assert services_in(text) == {"paymentservice"}  # back on the default topology
