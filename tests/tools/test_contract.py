"""The tool contract: schemas, alias resolution, durations, and bad input naming field and allowed values."""

from __future__ import annotations

import pytest

from tests.shop import SERVICES
from tools.backends.sim.cluster import Simulator
from tools.backends.sim_backend import sim_context
from tools.contract import TOOLS, catalogue, validate_call
from tools.durations import normalise_duration, parse_duration
from tools.registry import call_tool
from tools.services import resolve_service


def test_eleven_tools_with_schemas() -> None:
    cat = catalogue()
    assert [c["name"] for c in cat] == list(TOOLS) and len(cat) == 11
    qm = next(c for c in cat if c["name"] == "query_metrics")["parameters"]
    assert set(qm["properties"]["service"]["enum"]) == set(SERVICES)
    assert "latency_p99" in qm["properties"]["metric"]["enum"]


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [("checkout", "checkoutservice"), ("payments", "paymentservice"), ("cart", "cartservice"),
     ("catalog", "productcatalogservice"), ("recs", "recommendationservice"),
     ("recommendations", "recommendationservice"), ("ads", "adservice"), ("email", "emailservice"),
     ("currency", "currencyservice"), ("shipping", "shippingservice"), ("redis", "redis-cart"),
     ("storefront", "frontend"), ("front end", "frontend"), ("web", "frontend"),
     ("Checkout Service", "checkoutservice"),
     ("redis-cart", "redis-cart")],
)
def test_aliases(alias: str, canonical: str) -> None:
    assert resolve_service(alias) == canonical


@pytest.mark.parametrize(("text", "norm"), [("15m", "15m"), ("1h", "1h"), ("60m", "1h"), ("90 minutes", "90m"),
                                            ("2 hours", "2h"), ("1h30m", "90m"), ("30", "30m"), ("120s", "2m")])
def test_durations(text: str, norm: str) -> None:
    assert normalise_duration(text) == norm


@pytest.mark.parametrize("bad", ["", "abc", "-5m", "5x", "0m"])
def test_bad_durations(bad: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


def test_defaults_and_normalisation() -> None:
    m = validate_call("query_metrics", {"service": "checkout", "metric": "cpu", "window": "60 minutes"})
    assert m.model_dump() == {"service": "checkoutservice", "metric": "cpu", "window": "1h"}


@pytest.mark.parametrize(
    ("tool", "args", "needle"),
    [
        ("nope", {}, "unknown tool 'nope'; allowed: query_metrics"),
        ("query_metrics", {"service": "nosuch", "metric": "cpu"}, "service"),
        ("query_metrics", {"service": "cart", "metric": "disk"}, "metric: got 'disk'; allowed:"),
        ("query_metrics", {"service": "cart", "metric": "cpu", "window": "soon"}, "window"),
        ("scale_service", {"service": "cart", "replicas": -1}, "replicas"),
        ("scale_service", {"service": "cart", "replicas": "3"}, "replicas"),
        ("scale_service", {"service": "cart"}, "replicas: required"),
        ("search_logs", {"level": "debug"}, "level"),
        ("run_runbook", {"name": "fix-everything", "service": "cart"}, "high-latency"),
        ("get_topology", {"servce": "cart"}, "servce: unknown argument"),
    ],
)
def test_bad_input_is_an_error_envelope_and_changes_nothing(tool: str, args: dict, needle: str) -> None:
    sim = Simulator(seed=1)
    sim.step(5)
    before = (sim.replicas.copy(), len(sim.events), sim.minute)
    result = call_tool(tool, args, sim_context(sim))
    assert result.status == "error" and needle in (result.error or ""), result.error
    assert (sim.replicas == before[0]).all() and len(sim.events) == before[1] and sim.minute == before[2]
    if "service" in args and args["service"] == "nosuch":
        assert "checkoutservice" in (result.error or "")


def test_read_tools_return_data() -> None:
    sim = Simulator(seed=2)
    sim.step(30)
    ctx = sim_context(sim)
    r = call_tool("query_metrics", {"service": "frontend", "metric": "throughput", "window": "10m"}, ctx)
    assert r.status == "ok" and len(r.data["points"]) == 10 and r.data["current"] > 0
    assert call_tool("get_topology", {}, ctx).data["edges"]
    assert call_tool("get_topology", {"service": "cart"}, ctx).data == {
        "service": "cartservice", "callers": ["checkoutservice", "frontend"], "callees": ["redis-cart"]}
    logs = call_tool("search_logs", {"service": "frontend", "limit": 3}, ctx)
    assert logs.status == "ok" and len(logs.data["lines"]) == 3


def test_write_tools_act_on_the_simulator() -> None:
    sim = Simulator(seed=2)
    sim.step(5)
    r = call_tool("scale_service", {"service": "checkout", "replicas": 3}, sim_context(sim))
    assert r.status == "ok" and r.data["replicas"] == 3
    sim.step(1)
    assert sim.history[-1, 7, 6] == 3  # checkoutservice replicas metric
