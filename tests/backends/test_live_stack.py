"""`keel sim serve` with an injected fault, scraped by a real Prometheus, logging to rotated files:
query_metrics, search_logs and root_cause_analysis through the real backends find the fault; a
Prometheus stopped mid-test gives an error envelope within the timeout."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from agent.settings import get_settings
from tests.backends.servers import Prometheus, SimServe, free_port, prometheus_server, sim_serve, wait_until
from tests.ci import unavailable
from tests.shop import IDX, SERVICES
from tools.backends.base import ToolContext
from tools.backends.factory import build_backends
from tools.backends.prometheus import PrometheusMetrics
from tools.backends.promql import KUBERNETES, render
from tools.backends.sim.model import M
from tools.backends.sim.scenario import load_scenario
from tools.registry import call_tool

pytestmark = pytest.mark.slow

SPEED_S = 0.5  # wall-clock seconds per simulated minute
FAULT_AT = 12  # simulated minute the fault starts
RUN_TO = 40  # simulated minutes before the tools are asked
SCENARIO = {
    "seed": 11,
    "load": {"kind": "constant", "peak_rps": 300},
    "faults": [{"type": "latency_injection", "service": "paymentservice", "start": FAULT_AT, "duration": 200,
                "intensity": 0.8}],
}


class Stack:
    def __init__(self, sim: SimServe, prom: Prometheus, scenario: Path) -> None:
        self.sim, self.prom, self.scenario = sim, prom, scenario

    def context(self, **overrides: object) -> ToolContext:
        settings = get_settings(
            metrics_backend="prometheus", prometheus_url=self.prom.url, prometheus_min_step_s=0.5,
            prometheus_max_points=3600,
            logs_backend="files", log_dir=str(self.sim.log_dir), backend_timeout_s=5, **overrides,
        )
        return build_backends(settings)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("stack")
    scenario = base / "payment-latency.yaml"
    scenario.write_text(yaml.safe_dump(SCENARIO))
    port = free_port()
    # Prometheus first, so it scrapes the simulator from its first minute on.
    with prometheus_server([f"127.0.0.1:{port}"], scrape_s=0.5) as prom:
        with sim_serve(scenario, base / "logs", SPEED_S, max_log_bytes=40_000, port=port) as sim:
            wait_until(lambda: sim.minute() >= RUN_TO, RUN_TO * SPEED_S + 30, f"simulated minute {RUN_TO}")
            wait_until(lambda: bool(prom.query(f"keel_sim_minute >= {RUN_TO - 1}")), 10, "prometheus scrape")
            yield Stack(sim, prom, scenario)


def test_logs_are_rotated_json_lines(stack: Stack) -> None:
    files = sorted(p.name for p in stack.sim.log_dir.iterdir())
    assert "keel-sim.log" in files and "keel-sim.log.1" in files, files


def test_query_metrics_reads_the_simulators_values_from_prometheus(stack: Stack) -> None:
    ctx = stack.context()
    r = call_tool("query_metrics", {"service": "payment", "metric": "latency_p99", "window": "30m"}, ctx)
    assert r.status == "ok", r.error
    assert r.data["current"] > 3 * r.data["start"], r.data  # the injected delay shows up
    # Every point Prometheus returns is a value the (deterministic) simulator produced for some minute.
    sim = load_scenario(stack.scenario).build()
    sim.run_until(stack.sim.minute() + 5)
    produced = sim.history[:, IDX["paymentservice"], M["latency_p99"]]
    points = ctx.metrics.series("paymentservice", "latency_p99", 1800)
    assert len(points) >= 20
    for p in points:
        assert min(abs(produced - p.value)) < 1e-6 * max(1.0, p.value), p


def test_frame_returns_every_service_in_one_query(stack: Stack) -> None:
    ctx = stack.context()
    prom = ctx.metrics
    assert isinstance(prom, PrometheusMetrics)
    frame = prom.frame("cpu", 1800)
    assert set(frame) == set(SERVICES)
    assert all(len(v) >= 20 for v in frame.values())


def test_search_logs_reads_the_files(stack: Stack) -> None:
    ctx = stack.context()
    r = call_tool("search_logs", {"service": "paymentservice", "level": "warn", "query": "slow request",
                                  "window": "30m", "limit": 5}, ctx)
    assert r.status == "ok", r.error
    assert len(r.data["lines"]) == 5 and r.data["total_matches"] >= RUN_TO - FAULT_AT - 5
    assert all(x["service"] == "paymentservice" and x["level"] == "warn" for x in r.data["lines"])
    ts = [x["ts"] for x in r.data["lines"]]
    assert ts == sorted(ts, reverse=True)
    quiet = call_tool("search_logs", {"service": "emailservice", "query": "slow request", "window": "30m"}, ctx)
    assert quiet.status == "no_data"


def test_root_cause_analysis_through_prometheus_finds_the_fault(stack: Stack) -> None:
    ctx = stack.context()
    t0 = time.perf_counter()
    r = call_tool("root_cause_analysis", {"service": "checkoutservice", "window": "30m"}, ctx)
    took = time.perf_counter() - t0
    if r.status == "error" and "not available" in (r.error or ""):
        unavailable(f"root_cause_analysis is not available: {r.error}")
    assert r.status == "ok", r.error
    ranking = r.data.get("ranking") or r.data.get("candidates") or r.data.get("causes")
    assert ranking, r.data
    top = ranking[0]["service"] if isinstance(ranking[0], dict) else ranking[0]
    assert top == "paymentservice", ranking[:3]
    print(f"\nroot_cause_analysis through Prometheus: {took:.2f} s, top {[c['service'] for c in ranking[:3]]}")


def test_kubernetes_preset_is_valid_promql(stack: Stack) -> None:
    """The cAdvisor / kube-state-metrics / Istio preset parses and runs on a real Prometheus (no data here)."""
    ctx = stack.context()
    prom = ctx.metrics
    assert isinstance(prom, PrometheusMetrics)
    for metric, mq in KUBERNETES.items():
        data = prom.api("query", {"query": render(mq, list(SERVICES))})
        assert data["result"] == [], metric


def test_a_stopped_prometheus_gives_an_error_envelope_within_the_timeout(tmp_path: Path, stack: Stack) -> None:
    with prometheus_server([f"127.0.0.1:{stack.sim.port}"], scrape_s=0.5) as prom:
        ctx = build_backends(get_settings(metrics_backend="prometheus", prometheus_url=prom.url,
                                          prometheus_min_step_s=0.5, backend_timeout_s=5))
        wait_until(lambda: bool(prom.query("keel_sim_minute")), 10, "first scrape")
        time.sleep(2.5)  # a grid step (1.25 s for 5 m) past the first sample
        ok = call_tool("query_metrics", {"service": "cart", "metric": "cpu", "window": "5m"}, ctx)
        assert ok.status == "ok", ok.error
        prom.stop()
        t0 = time.perf_counter()
        r = call_tool("query_metrics", {"service": "cart", "metric": "memory", "window": "5m"}, ctx)
        took = time.perf_counter() - t0
    assert r.status == "error"
    assert f"prometheus at {prom.url}" in r.error and "connection refused" in r.error
    assert took < 5.0, took
    print(f"\nPrometheus stopped: query_metrics returned an error envelope in {took:.2f} s: {r.error}")
    rca = call_tool("root_cause_analysis", {"service": "checkoutservice"}, ctx)
    assert rca.status == "error"


def test_doctor_against_the_real_prometheus(stack: Stack) -> None:
    from agent.doctor import check_prometheus

    good = check_prometheus(get_settings(metrics_backend="prometheus", prometheus_url=stack.prom.url))
    assert [c.status for c in good] == ["ok"] * 9, [(c.name, c.status, c.detail) for c in good]
    bad = {c.name: c for c in check_prometheus(get_settings(
        metrics_backend="prometheus", prometheus_url=stack.prom.url,
        prometheus_queries={"cpu": 'rate(keel_sim_cpu_percent{service=~"$service"}', "memory": 'nope{x=~"$service"}'},
    ))}
    assert bad["metrics: cpu"].status == "fail" and "bad_data" in bad["metrics: cpu"].detail
    assert "[prometheus_queries]" in bad["metrics: cpu"].fix
    assert bad["metrics: memory"].status == "fail" and "no series" in bad["metrics: memory"].detail
    kube = {c.name: c for c in check_prometheus(get_settings(
        metrics_backend="prometheus", prometheus_url=stack.prom.url, prometheus_preset="kubernetes"))}
    assert kube["metrics: cpu"].status == "fail" and "exporter" in kube["metrics: cpu"].fix


def test_every_metric_of_every_service_costs_one_request_per_metric(stack: Stack) -> None:
    """What root-cause analysis asks for (8 metrics x 11 services over 30 minutes): 8 HTTP requests."""
    import httpx

    from tools.contract import METRICS

    sent: list[str] = []
    client = httpx.Client(event_hooks={"request": [lambda req: sent.append(str(req.url))]})
    prom = PrometheusMetrics(stack.prom.url, min_step_s=0.5, max_points=3600, client=client)
    t0 = time.perf_counter()
    series = {(s, m): prom.series(s, m, 1800) for s in SERVICES for m in METRICS}
    took = time.perf_counter() - t0
    assert len(sent) == len(METRICS) and all("/api/v1/query_range" in u for u in sent)
    assert all(len(v) >= 20 for v in series.values())
    assert len({tuple(p.ts for p in v) for v in series.values()}) == 1  # one time grid for all of them
    assert took < 5, took
    print(f"\n{len(series)} series over 30m in {len(sent)} requests, {took * 1000:.0f} ms")


def test_the_causal_method_on_series_read_through_prometheus_finds_the_fault(stack: Stack) -> None:
    """The RCA input as the tool gathers it (every metric of every service, and the topology) read through the
    real backends, fed to `causal.pipeline.analyse`: the faulty service ranks first."""
    import networkx as nx

    from causal.case import Case, frame
    from causal.pipeline import analyse
    from tools.contract import METRICS

    ctx = stack.context()
    series = {(s, m): ctx.metrics.series(s, m, 1800) for s in SERVICES for m in METRICS}
    times = [p.ts for p in series[("frontend", "cpu")]]
    assert all([p.ts for p in v] == times for v in series.values())
    table = frame({k: [p.value for p in v] for k, v in series.items()}, times)
    case = Case("live", table, graph=nx.DiGraph(ctx.topology.edges()))
    result = analyse(case, detect=True)
    assert result.services()[0] == "paymentservice", result.services()[:3]
