"""The Loki backend against a local fake that checks every request against the Loki HTTP API reference
and answers by evaluating the LogQL it receives (no live Loki server can run here)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from tests.backends.fake_loki import FakeLoki, Stream, parse_logql, serve_fake
from tools.backends.base import BackendError, ToolContext
from tools.backends.loki import LokiLogs, build_logql
from tools.backends.sim_backend import SimBackend
from tools.registry import call_tool

S = 10**9


def line(service: str, level: str, message: str, ns: int) -> tuple[int, str]:
    return ns, json.dumps({"ts": ns / S, "service": service, "level": level, "message": message})


@pytest.fixture
def fake() -> FakeLoki:
    now = time.time_ns()
    pay = [line("paymentservice", "warn", "slow request: handler took 800ms over budget", now - k * 30 * S)
           for k in range(1, 8)]
    pay += [line("paymentservice", "info", "Transaction processed", now - 45 * S),
            line("paymentservice", "error", 'upstream said "Slow Request" \\ retry', now - 20 * S),
            line("paymentservice", "warn", "slow request long ago", now - 3 * 3600 * S)]
    cart = [line("cartservice", "error", "redis timeout", now - 10 * S)]
    return FakeLoki([Stream({"service": "paymentservice", "namespace": "shop"}, pay),
                     Stream({"service": "cartservice", "namespace": "shop"}, cart)])


@pytest.fixture
def loki(fake: FakeLoki) -> Iterator[LokiLogs]:
    with serve_fake(fake) as url:
        yield LokiLogs(url, timeout_s=3)


def test_logql_is_built_as_documented() -> None:
    assert build_logql("slow request", "paymentservice", "warn") == (
        '{service="paymentservice"} |~ "(?i)slow request" | json | level=~"(?i)(warn|warning)"')
    assert build_logql("", None, None) == '{service=~".+"}'
    assert build_logql("/time(out|d out)/", "cart", "error", service_label="app", level_label="level") == (
        '{app="cart", level=~"(?i)(error|err|fatal|critical|crit|panic|emerg|alert|severe)"} |~ "time(out|d out)"')
    assert build_logql('say "hi" \\ a.b', None, None) == '{service=~".+"} |~ "(?i)say \\"hi\\" \\\\\\\\ a\\\\.b"'
    for q in ("x", 'say "hi" \\ a.b', "/a|b/"):  # and the fake's LogQL parser accepts all of them
        parse_logql(build_logql(q, "s", "error"))
    with pytest.raises(ValueError, match="bad regular expression"):
        build_logql("/(/", None, None)


def test_search_sends_the_documented_request_and_reads_streams(fake: FakeLoki, loki: LokiLogs) -> None:
    page = loki.search("slow request", "paymentservice", "warn", 15 * 60, 5)
    assert not fake.errors
    rng, inst = fake.requests
    assert rng["method"] == "GET" and rng["path"] == "/loki/api/v1/query_range"
    p = rng["params"]
    assert set(p) == {"query", "start", "end", "limit", "direction"}
    assert p["direction"] == "backward" and p["limit"] == "5"
    assert int(p["end"]) - int(p["start"]) == 15 * 60 * S
    assert inst["path"] == "/loki/api/v1/query"
    assert inst["params"]["query"] == f"sum(count_over_time({p['query']} [900s]))"
    assert len(page.lines) == 5 and page.total == 7  # total from the count query, not the page
    assert all(r.service == "paymentservice" and r.level == "warn" for r in page.lines)
    assert page.lines[0].message == "slow request: handler took 800ms over budget"
    assert [r.ts for r in page.lines] == sorted((r.ts for r in page.lines), reverse=True)


def test_case_insensitive_substring_and_regex(fake: FakeLoki, loki: LokiLogs) -> None:
    page = loki.search("UPSTREAM said", None, None, 15 * 60, 20)
    assert [r.level for r in page.lines] == ["error"] and page.lines[0].message.endswith('"Slow Request" \\ retry')
    page = loki.search("/redis (timeout|down)/", None, "error", 15 * 60, 20)
    assert [(r.service, r.message) for r in page.lines] == [("cartservice", "redis timeout")]
    assert not fake.errors


def test_level_as_a_stream_label(fake: FakeLoki) -> None:
    now = time.time_ns()
    fake.streams = [Stream({"app": "pay", "level": "ERROR"}, [(now - S, "plain text failure")]),
                    Stream({"app": "pay", "level": "info"}, [(now - 2 * S, "plain text fine")])]
    with serve_fake(fake) as url:
        logs = LokiLogs(url, service_label="app", level_label="level", service_map={"paymentservice": "pay"})
        page = logs.search("", "paymentservice", "error", 60, 10)
    assert [(r.service, r.level, r.message) for r in page.lines] == [("paymentservice", "error", "plain text failure")]
    assert not fake.errors


def test_tenant_header(fake: FakeLoki) -> None:
    fake.tenant = "team-a"
    with serve_fake(fake) as url:
        assert LokiLogs(url, tenant="team-a").search("", "cartservice", None, 60, 10).total == 1
        with pytest.raises(BackendError, match="HTTP 401"):
            LokiLogs(url).search("", "cartservice", None, 60, 10)


def test_errors_are_named_and_overload_is_retried(fake: FakeLoki, loki: LokiLogs) -> None:
    fake.fail_next = [429, 503]
    assert loki.search("", "cartservice", None, 60, 10).total == 1  # third attempt succeeds
    fake.streams = []
    fake.fail_next = [400]
    with pytest.raises(BackendError, match=f"loki at {loki.url}: HTTP 400"):
        loki.search("", None, None, 60, 10)


def test_search_logs_tool_through_loki(loki: LokiLogs) -> None:
    ctx = ToolContext(metrics=None, logs=loki, topology=SimBackend(None), actions=None)  # type: ignore[arg-type]
    r = call_tool("search_logs", {"service": "payment", "query": "slow request", "level": "warn", "limit": 3}, ctx)
    assert r.status == "ok" and r.data["total_matches"] == 7 and len(r.data["lines"]) == 3
    down = LokiLogs("http://127.0.0.1:9", timeout_s=1)
    ctx.logs = down
    r = call_tool("search_logs", {"service": "payment"}, ctx)
    assert r.status == "error" and r.error.startswith("loki at http://127.0.0.1:9: connection refused")
