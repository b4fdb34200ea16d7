"""check_health: which services are out of line now, worst first, on the simulator and on a stub backend."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from agent.answer import collect_findings, compose
from tools.backends.base import Point, ToolContext
from tools.backends.sim.scenario import Scenario, load_scenario
from tools.backends.sim_backend import sim_context
from tools.envelope import ToolResult
from tools.health import ERROR_RATE, LATENCY_FLOOR_MS, LATENCY_SLO_MS, latency_line
from tools.registry import call_tool
from tools.results import HealthReport
from tools.topology import builtin_names, load_topology

ROOT = Path(__file__).resolve().parents[2]


def _at(scenario: Scenario, minute: int) -> ToolContext:
    sim = scenario.build()
    sim.run_until(minute)
    return sim_context(sim)


def _report(result: ToolResult) -> HealthReport:
    view = result.view("check_health")
    assert isinstance(view, HealthReport), result
    return view


@pytest.mark.parametrize("topology", builtin_names())
def test_a_quiet_cluster_is_all_healthy(topology: str) -> None:
    topo = load_topology(topology)
    ctx = _at(Scenario(topology=topo, seed=3), 60)
    r = call_tool("check_health", {}, ctx)
    report = _report(r)
    assert r.status == "ok" and report.unhealthy == [] and report.checked == len(topo)
    assert report.observation() == f"all {len(topo)} healthy"


def test_a_crashed_service_comes_first_and_says_it_is_down() -> None:
    ctx = _at(load_scenario(ROOT / "evals/scenarios/e2e/crash-cartservice.yaml"), 28)
    report = _report(call_tool("check_health", {}, ctx))
    worst = report.unhealthy[0]
    assert worst.service == "cartservice"
    assert {f.metric for f in worst.findings} >= {"error_rate", "replicas"}
    down = next(f for f in worst.findings if f.metric == "replicas")
    assert down.current == 0 and down.baseline >= 1
    severities = [s.severity for s in report.unhealthy]
    assert severities == sorted(severities, reverse=True)
    healthy = {"adservice", "emailservice", "redis-cart"}
    assert healthy.isdisjoint(s.service for s in report.unhealthy)


def test_latency_injection_names_the_slow_service_and_one_service_can_be_asked() -> None:
    ctx = _at(load_scenario(ROOT / "evals/scenarios/e2e/latency-paymentservice.yaml"), 28)
    report = _report(call_tool("check_health", {}, ctx))
    assert report.unhealthy[0].service == "paymentservice"
    assert report.unhealthy[0].findings[0].metric == "latency_p99"
    one = _report(call_tool("check_health", {"service": "payments", "window": "30m"}, ctx))
    assert one.service == "paymentservice" and one.checked == 1 and one.window == "30m"
    assert [s.service for s in one.unhealthy] == ["paymentservice"]
    quiet = _report(call_tool("check_health", {"service": "email"}, ctx))
    assert quiet.unhealthy == [] and quiet.line() == "all 1 services checked are within their lines"


def test_other_topologies_use_their_own_names() -> None:
    topo = load_topology("sock-shop")
    victim = next(s.name for s in topo.services if not s.protected and s.name != topo.entry)
    sc = Scenario.model_validate({"topology": topo, "seed": 5, "faults": [
        {"type": "crash", "service": victim, "start": "20m", "duration": "60m", "intensity": 1.0}]})
    report = _report(call_tool("check_health", {}, _at(sc, 28)))
    assert report.unhealthy and report.unhealthy[0].service == victim


def test_bad_input_is_an_error_naming_the_field() -> None:
    ctx = _at(Scenario(seed=1), 10)
    r = call_tool("check_health", {"service": "nosuch"}, ctx)
    assert r.status == "error" and r.code == "unknown_service" and "cartservice" in (r.error or "")
    r = call_tool("check_health", {"window": "soon"}, ctx)
    assert r.status == "error" and "window" in (r.error or "")
    r = call_tool("check_health", {"servce": "cart"}, ctx)
    assert r.status == "error" and "servce: unknown argument" in (r.error or "")


# ------------------------------------------------------------------ the lines, on a stub metrics backend


@dataclass
class StubMetrics:
    """Per (service, metric) a list of values, one a minute, newest last."""

    values: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    name: str = "stub"

    def series(self, service: str, metric: str, window_s: int) -> list[Point]:
        vals = self.values.get((service, metric), [])[-max(1, window_s // 60):]
        return [Point(ts=60.0 * i, value=v) for i, v in enumerate(vals)]


def _stub_ctx(values: dict[tuple[str, str], list[float]]) -> ToolContext:
    m = StubMetrics(values)
    return ToolContext(metrics=m, logs=None, topology=None, actions=None)  # type: ignore[arg-type]


def test_latency_line_is_the_slo_or_a_rise_over_the_floor() -> None:
    assert latency_line(20.0) == LATENCY_FLOOR_MS  # a fast service: 200 ms is already out of line
    assert latency_line(150.0) == 300.0  # twice its own minimum
    assert latency_line(400.0) == LATENCY_SLO_MS  # never above the SLO


def test_lines_and_ordering_on_stub_metrics() -> None:
    flat = [50.0] * 10
    ctx = _stub_ctx({
        ("frontend", "latency_p99"): flat[:-1] + [260.0],  # 260 / 200 = 1.3
        ("frontend", "error_rate"): [0.001] * 10,
        ("cartservice", "latency_p99"): flat,
        ("cartservice", "error_rate"): [0.0] * 9 + [0.1],  # 0.1 / 0.02 = 5
        ("cartservice", "cpu"): [40.0] * 9 + [95.0],  # saturated
        ("checkoutservice", "latency_p99"): flat[:-1] + [199.0],  # just under the floor: healthy
        ("checkoutservice", "error_rate"): [0.0199] * 10,  # just under the line: healthy
        ("redis-cart", "memory"): [100.0] * 9 + [0.95 * 1024],  # 95 % of its limit (1024 MB in the shop)
    })
    report = _report(call_tool("check_health", {}, ctx))
    assert [s.service for s in report.unhealthy] == ["cartservice", "frontend", "redis-cart"]
    cart = report.unhealthy[0]
    assert [f.metric for f in cart.findings] == ["error_rate", "cpu"]
    assert cart.severity == pytest.approx(0.1 / ERROR_RATE)
    assert report.unhealthy[1].findings[0].severity == pytest.approx(1.3)
    assert report.no_data and "adservice" in report.no_data  # no metrics at all: listed, not called healthy
    assert report.observation().startswith("cartservice error_rate 0.1, cpu 95%; frontend latency_p99 260ms")


def test_no_metrics_at_all_is_no_data() -> None:
    r = call_tool("check_health", {"service": "cart"}, _stub_ctx({}))
    assert r.status == "no_data" and "cartservice" in (r.error or "")


def test_the_answer_lists_what_is_out_of_line() -> None:
    ctx = _at(load_scenario(ROOT / "evals/scenarios/e2e/crash-cartservice.yaml"), 28)
    r = call_tool("check_health", {}, ctx)
    text = compose(collect_findings("is anything else unhealthy?", [
        {"tool": "check_health", "args": {}, "result": r.to_dict()}]))
    first = text.splitlines()[0]
    assert first.startswith(f"{len(_report(r).unhealthy)} of 11 services out of line now, worst first: cartservice")
    assert "- cartservice: error_rate 1 (line 0.02), 50x over; replicas 0 (line 1), 50x over" in text
