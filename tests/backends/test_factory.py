"""build_backends: each role from the simulator or a real backend, as the settings say."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.settings import get_settings
from tests.shop import EDGES
from tools.backends.factory import StaticTopology, build_backends, read_edges
from tools.backends.kubernetes import KubeActions
from tools.backends.logfiles import FileLogs
from tools.backends.loki import LokiLogs
from tools.backends.prometheus import PrometheusMetrics
from tools.backends.sim.scenario import Scenario
from tools.registry import call_tool


def test_defaults_are_the_simulator() -> None:
    sim = Scenario(name="quiet").build()
    sim.run_until(30)
    ctx = build_backends(get_settings(), sim)
    assert ctx.sim is sim and ctx.extras["backends"] == {"metrics": "sim", "logs": "sim", "actions": "sim",
                                                          "topology": "sim"}
    assert call_tool("query_metrics", {"service": "cart", "metric": "cpu"}, ctx).status == "ok"
    assert build_backends(get_settings()).sim.minute == 60  # a quiet default cluster when none is given


def test_real_backends_are_composed(tmp_path: Path) -> None:
    ctx = build_backends(get_settings(
        metrics_backend="prometheus", prometheus_url="http://prom:9090", logs_backend="loki",
        loki_url="http://loki:3100", actions_backend="kubernetes", kube_namespace="shop", backend_timeout_s=2,
        service_map={"cartservice": "cart"}, prometheus_preset="kubernetes"))
    assert isinstance(ctx.metrics, PrometheusMetrics) and ctx.metrics.timeout_s == 2
    assert ctx.metrics.backend_name("cartservice") == "cart"
    assert isinstance(ctx.logs, LokiLogs) and isinstance(ctx.actions, KubeActions)
    assert ctx.actions.namespace == "shop" and ctx.sim is None
    assert isinstance(ctx.topology, StaticTopology) and ctx.topology.edges() == [(a, b) for a, b, _ in EDGES]
    files = build_backends(get_settings(logs_backend="files", log_dir=str(tmp_path)))
    assert isinstance(files.logs, FileLogs) and files.sim is not None


def test_bad_settings_are_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="log_dir: required"):
        build_backends(get_settings(logs_backend="files"))
    with pytest.raises(ValueError, match="prometheus_preset: unknown preset 'nope'; allowed: keel_sim, kubernetes"):
        build_backends(get_settings(metrics_backend="prometheus", prometheus_preset="nope"))
    with pytest.raises(ValueError, match="prometheus_queries: unknown metric 'latency'"):
        build_backends(get_settings(metrics_backend="prometheus", prometheus_queries={"latency": "x"}))
    with pytest.raises(ValueError, match=r"must select services with \$service"):
        build_backends(get_settings(metrics_backend="prometheus", prometheus_queries={"cpu": "up"}))
    with pytest.raises(ValueError, match="topology_file: no such file"):
        build_backends(get_settings(topology_file=str(tmp_path / "none.csv")))


def test_topology_from_a_graph_csv(tmp_path: Path) -> None:
    f = tmp_path / "graph.csv"
    f.write_text("Source,Target,Weight\nfront,cart,3\ncart,redis-cart,1\nfront,cart,1\n")
    assert read_edges(f, {"frontend": "front", "cartservice": "cart"}) == [
        ("frontend", "cartservice"), ("cartservice", "redis-cart")]
    plain = tmp_path / "edges.csv"
    plain.write_text("frontend,adservice\n")
    ctx = build_backends(get_settings(metrics_backend="prometheus", topology_file=str(plain)))
    r = call_tool("get_topology", {"service": "frontend"}, ctx)
    assert r.data["callees"] == ["adservice"]
