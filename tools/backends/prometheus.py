"""Prometheus metrics backend: PromQL `query_range` over the HTTP API (httpx), one query per metric.

`frame(metric, window_s)` fetches one metric for every service in a single request; `series()` reads a
service out of that frame, so root-cause analysis (8 metrics x 11 services) costs 8 requests. Frames are
cached for `cache_s` seconds (default 2 s) so one tool call never asks twice for the same thing, and the
query grid (start, end on multiples of the step) is shared across metrics for that long, so every series
of one analysis has the same timestamps.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import httpx

from tools.backends.base import BackendError, Point
from tools.backends.promql import MetricQuery, build_queries, render
from tools.backends.retry import with_budget
from tools.services import service_names

MAX_POINTS = 240  # default points per series at most; the step grows with the window


class _Retryable(Exception):
    """A failure worth another attempt (connection refused, timeout, 5xx, 429)."""


def _describe(e: BaseException) -> str:
    if isinstance(e, httpx.ConnectError):
        return "connection refused or unreachable (is Prometheus running?)"
    if isinstance(e, httpx.TimeoutException):
        return "timed out"
    return str(e) or type(e).__name__


class PrometheusMetrics:
    """MetricsSource over Prometheus' HTTP API."""

    name = "prometheus"

    def __init__(
        self,
        url: str,
        *,
        preset: str = "keel_sim",
        queries: dict[str, Any] | None = None,
        timeout_s: float = 5.0,
        min_step_s: float = 15.0,
        service_map: dict[str, str] | None = None,
        cache_s: float = 2.0,
        max_points: int = MAX_POINTS,
        client: httpx.Client | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.queries: dict[str, MetricQuery] = build_queries(preset, queries)
        self.timeout_s = timeout_s
        self.min_step_s = min_step_s
        self.service_map = dict(service_map or {})
        self.cache_s = cache_s
        self.max_points = max_points
        self._client = client or httpx.Client()
        self._cache: dict[tuple[str, int, tuple[str, ...]], tuple[float, dict[str, list[Point]]]] = {}
        self._ends: dict[tuple[int, float], tuple[float, float]] = {}
        self._lock = threading.Lock()

    @property
    def label(self) -> str:
        return f"prometheus at {self.url}"

    def backend_name(self, service: str) -> str:
        return self.service_map.get(service, service)

    def step_for(self, window_s: int) -> float:
        return max(self.min_step_s, window_s / self.max_points)

    # ------------------------------------------------------------------ HTTP
    def api(self, path: str, params: dict[str, Any]) -> Any:
        """GET /api/v1/<path>; returns `data`. Raises BackendError naming this Prometheus."""

        def once(left: float) -> Any:
            try:
                r = self._client.get(f"{self.url}/api/v1/{path}", params=params, timeout=left)
            except (httpx.ConnectError, httpx.TimeoutException, httpx.RemoteProtocolError) as e:
                raise _Retryable(_describe(e)) from e
            except httpx.HTTPError as e:
                raise BackendError(f"{self.label}: {_describe(e)}") from e
            if r.status_code >= 500 or r.status_code == 429:
                raise _Retryable(f"HTTP {r.status_code}: {r.text[:200]}")
            try:
                body = r.json()
            except ValueError:
                raise BackendError(f"{self.label}: HTTP {r.status_code}, not a Prometheus API answer") from None
            if body.get("status") != "success":
                raise BackendError(f"{self.label}: {body.get('errorType', 'error')}: {body.get('error', r.text[:200])}")
            return body.get("data")

        return with_budget(
            once, timeout_s=self.timeout_s, retryable=lambda e: isinstance(e, _Retryable), label=self.label
        )

    # ------------------------------------------------------------------ metrics
    def frame(self, metric: str, window_s: int, services: list[str] | None = None) -> dict[str, list[Point]]:
        """Every service's series of one metric over the last `window_s` seconds (contract names as keys)."""
        if metric not in self.queries:
            raise BackendError(f"{self.label}: no PromQL mapping for metric {metric!r}")
        wanted = list(services or service_names())
        key = (metric, int(window_s), tuple(wanted))
        now = time.time()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and now - hit[0] < self.cache_s:
                return hit[1]
        mq = self.queries[metric]
        step = self.step_for(window_s)
        start, end = self.grid(window_s, step, now)
        data = self.api("query_range", {
            "query": render(mq, [self.backend_name(s) for s in wanted]),
            "start": f"{start:.3f}",
            "end": f"{end:.3f}",
            "step": f"{step:g}",
        })
        by_backend = {self.backend_name(s): s for s in wanted}
        out: dict[str, list[Point]] = {s: [] for s in wanted}
        for item in (data or {}).get("result", []):
            svc = by_backend.get(item.get("metric", {}).get(mq.label, ""))
            if svc is None:
                continue
            pts = [Point(float(ts), float(v)) for ts, v in item.get("values", [])]
            out[svc].extend(p for p in pts if math.isfinite(p.value))
        for svc in out:
            out[svc].sort(key=lambda p: p.ts)
        with self._lock:
            self._cache[key] = (now, out)
            if len(self._cache) > 64:
                self._cache.clear()
        return out

    def grid(self, window_s: int, step: float, now: float) -> tuple[float, float]:
        """(start, end) on multiples of `step`, the same for every metric asked within `cache_s`, so the
        series of one analysis share their timestamps."""
        with self._lock:
            hit = self._ends.get((int(window_s), step))
            if hit is not None and now - hit[0] < self.cache_s:
                end = hit[1]
            else:
                end = math.floor(now / step) * step
                self._ends[(int(window_s), step)] = (now, end)
        return end - math.floor(window_s / step) * step, end

    def series(self, service: str, metric: str, window_s: int) -> list[Point]:
        return self.frame(metric, window_s).get(service, [])

    def close(self) -> None:
        self._client.close()
