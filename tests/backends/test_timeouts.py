"""Timeouts and retries: a backend that is down, hangs or is overloaded gives an error envelope naming it,
within the time budget, and nothing raises."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.backends.fake_loki import serve_fake
from tools.backends.base import BackendError
from tools.backends.loki import LokiLogs
from tools.backends.prometheus import PrometheusMetrics
from tools.backends.retry import with_budget
from tools.backends.sim.scenario import Scenario
from tools.backends.sim_backend import sim_context
from tools.registry import call_tool


@pytest.fixture
def hanging_server() -> Iterator[str]:
    """Accepts connections and reads requests but never answers."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    stop = threading.Event()
    conns: list[socket.socket] = []

    def accept() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                c, _ = srv.accept()
                conns.append(c)
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.getsockname()[1]}"
    stop.set()
    t.join(2)
    for c in conns:
        c.close()
    srv.close()


def test_budget_bounds_the_total_time_of_all_attempts() -> None:
    calls: list[float] = []

    def slow(left: float) -> None:
        calls.append(left)
        time.sleep(min(left, 0.6))
        raise TimeoutError("slow")

    t0 = time.perf_counter()
    with pytest.raises(BackendError, match="thing: slow .after 2 attempts"):
        with_budget(slow, timeout_s=1.0, attempts=5, label="thing")
    assert time.perf_counter() - t0 < 1.2
    assert calls[0] == pytest.approx(1.0, abs=0.05) and calls[1] < 0.5  # each attempt gets what is left


def test_retry_then_succeed_and_no_retry_for_non_retryable() -> None:
    seen = []

    def flaky(left: float) -> str:
        seen.append(left)
        if len(seen) < 3:
            raise ConnectionError("refused")
        return "ok"

    assert with_budget(flaky, timeout_s=5) == "ok" and len(seen) == 3
    seen.clear()
    with pytest.raises(BackendError, match="after 1 attempt,"):
        with_budget(flaky, timeout_s=5, retryable=lambda e: False)


def ctx_with(**parts: object):  # type: ignore[no-untyped-def]
    sim = Scenario(name="quiet").build()
    sim.run_until(30)
    ctx = sim_context(sim)
    for k, v in parts.items():
        setattr(ctx, k, v)
    ctx.sim = None
    return ctx


@pytest.mark.parametrize("timeout_s", [1.0, 2.0])
def test_a_hanging_prometheus_fails_within_the_budget(hanging_server: str, timeout_s: float) -> None:
    ctx = ctx_with(metrics=PrometheusMetrics(hanging_server, timeout_s=timeout_s))
    t0 = time.perf_counter()
    r = call_tool("query_metrics", {"service": "cart", "metric": "cpu"}, ctx)
    took = time.perf_counter() - t0
    assert r.status == "error" and r.error.startswith(f"prometheus at {hanging_server}: ")
    assert "timed out" in r.error or "no answer" in r.error
    assert timeout_s * 0.8 < took < timeout_s + 0.5, took


def test_a_hanging_loki_fails_within_the_budget(hanging_server: str) -> None:
    ctx = ctx_with(logs=LokiLogs(hanging_server, timeout_s=1.5))
    t0 = time.perf_counter()
    r = call_tool("search_logs", {"service": "cart"}, ctx)
    assert r.status == "error" and r.error.startswith(f"loki at {hanging_server}: ")
    assert time.perf_counter() - t0 < 2.0


class Overloaded:
    """Answers 503 twice, then a valid Prometheus matrix."""

    def __init__(self) -> None:
        self.n = 0

    def handle(self, method: str, path: str, params: dict, headers: dict) -> tuple[int, object]:
        self.n += 1
        if self.n <= 2:
            return 503, "overloaded"
        if path != "/api/v1/query_range" or not {"query", "start", "end", "step"} <= set(params):
            return 400, {"status": "error", "errorType": "bad_data", "error": f"bad request {path} {params}"}
        end = float(params["end"])
        return 200, {"status": "success", "data": {"resultType": "matrix", "result": [
            {"metric": {"service": "cartservice"}, "values": [[end - 30, "41.5"], [end, "NaN"], [end - 15, "42"]]}]}}


def test_overload_is_retried_and_bad_values_dropped() -> None:
    app = Overloaded()
    with serve_fake(app) as url:
        prom = PrometheusMetrics(url, timeout_s=3)
        points = prom.series("cartservice", "cpu", 300)
    assert app.n == 3 and [p.value for p in points] == [41.5, 42.0]


def test_a_bad_query_is_not_retried_and_names_the_error() -> None:
    class BadData:
        n = 0

        def handle(self, method: str, path: str, params: dict, headers: dict) -> tuple[int, object]:
            self.n += 1
            return 400, {"status": "error", "errorType": "bad_data", "error": "parse error: unexpected }"}

    app = BadData()
    with serve_fake(app) as url:
        ctx = ctx_with(metrics=PrometheusMetrics(url, timeout_s=3))
        r = call_tool("query_metrics", {"service": "cart", "metric": "cpu"}, ctx)
    assert app.n == 1 and r.status == "error"
    assert r.error == f"prometheus at {url}: bad_data: parse error: unexpected }}"


def test_the_agent_reports_a_down_backend_and_goes_on(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The agent over a Prometheus that is down: every metrics call is an error naming it, the reply says so."""
    from agent.composition import build_service
    from agent.context import LiveContext
    from config.settings import Settings
    from governance.gate import Principal
    from tests.agent.fakes import ScriptedPlanner
    from tools.backends.factory import build_backends

    settings = Settings(home=tmp_path, metrics_backend="prometheus", prometheus_url="http://127.0.0.1:9",
                        backend_timeout_s=1, step_limit=4)
    settings.ensure_home()
    live = LiveContext(tools=build_backends(settings), lock=threading.RLock())
    service = build_service(settings, planner=ScriptedPlanner(), context=live)
    reply = service.ask("checkout is slow", Principal("alice", "operator"))
    assert reply.status == "answered"
    metric_steps = [s for s in reply.steps if s["tool"] == "query_metrics"]
    assert metric_steps and all(s["result"]["status"] == "error" for s in metric_steps)
    # with Prometheus down no service is discovered either: the error says both, naming the backend
    assert "query_metrics failed:" in reply.text and "no services discovered" in reply.text
    assert "prometheus" in reply.text and "refused or unreachable (is Prometheus running?)" in reply.text
    assert len(reply.steps) >= 2  # it went on after the first failure
