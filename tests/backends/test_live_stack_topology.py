"""`keel sim serve --topology sock-shop` scraped by a real Prometheus: the gauges and log files carry the
Sock Shop names, and query_metrics and root_cause_analysis work on them through the real backends."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import yaml

from config.settings import get_settings
from tests.backends.servers import Prometheus, SimServe, free_port, prometheus_server, sim_serve, wait_until
from tools.backends.base import ToolContext
from tools.backends.factory import build_backends
from tools.registry import call_tool
from tools.services import current_topology
from tools.topology import load_topology

pytestmark = pytest.mark.slow

SPEED_S = 0.5  # wall-clock seconds per simulated minute
FAULT_AT = 12
RUN_TO = 40
# No `topology:` here: the names are read on the topology `--topology` gives.
SCENARIO = {
    "seed": 5,
    "load": {"kind": "constant", "peak_rps": 300},
    "faults": [{"type": "latency_injection", "service": "payment", "start": FAULT_AT, "duration": 200,
                "intensity": 0.8}],
}


class Stack:
    def __init__(self, sim: SimServe, prom: Prometheus) -> None:
        self.sim, self.prom = sim, prom

    def context(self) -> ToolContext:
        return build_backends(get_settings(
            topology="sock-shop", metrics_backend="prometheus", prometheus_url=self.prom.url,
            prometheus_min_step_s=0.5, prometheus_max_points=3600, logs_backend="files",
            log_dir=str(self.sim.log_dir), backend_timeout_s=5,
        ))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("sockshop")
    scenario = base / "payment-latency.yaml"
    scenario.write_text(yaml.safe_dump(SCENARIO))
    port = free_port()
    with prometheus_server([f"127.0.0.1:{port}"], scrape_s=0.5) as prom:
        with sim_serve(scenario, base / "logs", SPEED_S, port=port, topology="sock-shop") as sim:
            wait_until(lambda: sim.minute() >= RUN_TO, RUN_TO * SPEED_S + 30, f"simulated minute {RUN_TO}")
            wait_until(lambda: bool(prom.query(f"keel_sim_minute >= {RUN_TO - 1}")), 10, "prometheus scrape")
            yield Stack(sim, prom)


def test_prometheus_holds_the_sock_shop_names(stack: Stack) -> None:
    labels = {r["metric"]["service"] for r in stack.prom.query("keel_sim_cpu_percent")}
    assert labels == set(load_topology("sock-shop").names)
    logged = {json.loads(line)["service"] for line in (stack.sim.log_dir / "keel-sim.log").read_text().splitlines()}
    assert "orders" in logged and "queue-master" in logged and "frontend" not in logged


def test_query_metrics_on_a_sock_shop_service(stack: Stack) -> None:
    ctx = stack.context()
    assert current_topology().name == "sock-shop"
    ok = call_tool("query_metrics", {"service": "orders", "metric": "cpu", "window": "30m"}, ctx)
    assert ok.status == "ok", ok.error
    assert len(ok.data["points"]) >= 20 and 0 < ok.data["current"] < 100
    slow = call_tool("query_metrics", {"service": "payments", "metric": "latency_p99", "window": "30m"}, ctx)
    assert slow.status == "ok" and slow.data["service"] == "payment"
    assert slow.data["current"] > 3 * slow.data["start"], slow.data
    bad = call_tool("query_metrics", {"service": "adservice", "metric": "cpu"}, ctx)
    assert bad.status == "error" and "allowed: front-end, catalogue" in bad.error


def test_root_cause_analysis_on_sock_shop_through_prometheus(stack: Stack) -> None:
    ctx = stack.context()
    r = call_tool("root_cause_analysis", {"service": "orders", "window": "30m"}, ctx)
    assert r.status == "ok", r.error
    ranking = [c["service"] for c in r.data["ranking"]]
    assert ranking[0] == "payment", ranking
    assert r.data["symptom"] == "orders"


def test_keel_services_lists_the_sock_shop_names_from_prometheus(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """No topology given: the names come from Prometheus' label values alone, each fact with its source."""
    from typer.testing import CliRunner

    from cli.main import app

    monkeypatch.setenv("KEEL_METRICS_BACKEND", "prometheus")
    monkeypatch.setenv("KEEL_PROMETHEUS_URL", stack.prom.url)
    monkeypatch.delenv("KEEL_TOPOLOGY", raising=False)
    out = CliRunner().invoke(app, ["services", "--json"])
    assert out.exit_code == 0, out.output
    inv = json.loads(out.stdout)
    names = {s["name"] for s in inv["services"]}
    assert names == set(load_topology("sock-shop").names) and "frontend" not in names
    assert all(s["sources"]["name"].startswith(f"prometheus at {stack.prom.url}: label service")
               for s in inv["services"])
    table = CliRunner().invoke(app, ["services"], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "queue-master" in table.stdout and "prometheus at" in table.stdout


def test_the_discovered_inventory_is_what_tools_accept(stack: Stack) -> None:
    """Built on Prometheus alone, the process inventory is Prometheus' names: a read resolves a near-variant
    and says so; a write on a name Prometheus does not have is refused with the closest names."""
    ctx = build_backends(get_settings(
        metrics_backend="prometheus", prometheus_url=stack.prom.url, prometheus_min_step_s=0.5,
        logs_backend="files", log_dir=str(stack.sim.log_dir), backend_timeout_s=5,
    ))
    from tools.services import service_names

    assert set(service_names()) == set(load_topology("sock-shop").names)
    ok = call_tool("query_metrics", {"service": "Queue_Master", "metric": "cpu", "window": "10m"}, ctx)
    assert ok.status == "ok" and ok.resolved == {"asked": "Queue_Master", "service": "queue-master",
                                                 "how": "normalised", "score": 100.0}
    bad = call_tool("restart_service", {"service": "billing worker"}, ctx)
    assert bad.code == "unknown_service" and len(bad.data["candidates"]) == 3
