"""A bounded soak of a running keel server: N concurrent simulated users for a fixed time.

First every request kind is sent once (`warm_up`). Then users are threads with their own HTTP client and
bearer token. Operators chat (plain and streamed) in
their own conversation with a mix of investigation and action requests; one approver decides pending
approvals (approves most, denies some); viewers read incidents, approvals and the audit log. Every
response that is not 2xx, and every transport error, is an error. The server's resident memory is read
from /proc every few seconds: the start figure is taken after a warm-up, so model loading and the first
requests' allocations are not counted as growth; growth over the second half alone tells a plateau
(allocator and cache warm-up) from a steady leak. At the end the audit chain is verified over HTTP.
"""

from __future__ import annotations

import random
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx

REQUESTS = (
    "checkout is slow, what's going on?",
    "users see errors on the storefront",
    "what is the p99 latency of paymentservice?",
    "show me error logs from checkoutservice",
    "why is the cart slow?",
    "restart cartservice",
    "scale checkoutservice to 2",
    "roll back paymentservice",
    "what calls productcatalogservice?",
    "is anything wrong with currencyservice?",
    "what is the root cause of the checkout latency?",
    "how many replicas should frontend have?",
    "run the memory-leak runbook on cartservice",
)
CLIENT_TIMEOUT_S = 600.0  # a request slower than this counts as an error (the model is shared by all users)
READS = ("/api/incidents", "/api/approvals", "/api/audit?limit=50", "/v1/models", "/healthz")


def rss_mb(pid: int) -> float:
    """Resident set size of a process in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"no VmRSS for pid {pid}")


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    ok: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)
    approved: int = 0
    denied: int = 0

    def record(self, kind: str, status: int | str, ms: float) -> None:
        with self.lock:
            self.latencies_ms.setdefault(kind, []).append(ms)
            if isinstance(status, int) and 200 <= status < 300:
                self.ok += 1
            else:
                self.errors[f"{kind} {status}"] += 1


@dataclass
class SoakResult:
    users: int
    seconds: float
    requests: int
    errors: int
    error_kinds: dict[str, int]
    rss_start_mb: float
    rss_end_mb: float
    rss_peak_mb: float
    rss_growth_pct: float
    rss_growth_second_half_pct: float
    chain_valid: bool
    audit_records: int
    approved: int
    denied: int
    p50_ms: dict[str, float]
    p95_ms: dict[str, float]
    rss_samples: list[tuple[float, float]]

    def figures(self) -> dict[str, float]:
        chat = self.p50_ms.get("chat", float("nan"))
        return {"requests": float(self.requests), "errors": float(self.errors), "rss_start_mb": self.rss_start_mb,
                "rss_end_mb": self.rss_end_mb, "rss_growth_pct": self.rss_growth_pct,
                "rss_growth_second_half_pct": self.rss_growth_second_half_pct,
                "chain_valid": float(self.chain_valid), "audit_records": float(self.audit_records),
                "chat_p50_ms": chat, "seconds": self.seconds, "users": float(self.users)}


def _timed(t: Tally, kind: str, fn: Callable[[], httpx.Response]) -> httpx.Response | None:
    t0 = time.perf_counter()
    try:
        r = fn()
    except httpx.HTTPError as e:
        t.record(kind, type(e).__name__, (time.perf_counter() - t0) * 1000)
        return None
    t.record(kind, r.status_code, (time.perf_counter() - t0) * 1000)
    return r


def _stream_chat(c: httpx.Client, body: dict[str, Any]) -> httpx.Response:
    """A streamed chat read to its end; a 200 stream without the final [DONE] line counts as an error."""
    with c.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as r:
        done = any(line.strip() == "data: [DONE]" for line in r.iter_lines())
        if r.status_code == 200 and not done:
            raise httpx.RemoteProtocolError("stream ended without [DONE]")
        return r


def _operator(base: str, token: str, n: int, stop: threading.Event, t: Tally, seed: int) -> None:
    rng = random.Random(seed)
    headers = {"Authorization": f"Bearer {token}"}
    cid = f"soak-{n}-{seed}"
    turn = 0
    with httpx.Client(base_url=base, headers=headers, timeout=CLIENT_TIMEOUT_S) as c:
        while not stop.is_set():
            turn += 1
            body = {"model": "keel", "messages": [{"role": "user", "content": rng.choice(REQUESTS)}],
                    "conversation_id": f"{cid}-{turn}"}
            if turn % 3 == 0:
                _timed(t, "chat_stream", partial(_stream_chat, c, body))
            else:
                _timed(t, "chat", partial(c.post, "/v1/chat/completions", json=body))
            stop.wait(rng.uniform(0.2, 1.0))


def _approver(base: str, token: str, stop: threading.Event, t: Tally, seed: int) -> None:
    rng = random.Random(seed)
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=CLIENT_TIMEOUT_S) as c:
        while not stop.is_set():
            r = _timed(t, "approvals", partial(c.get, "/api/approvals", params={"status": "pending"}))
            for a in (r.json().get("approvals", []) if r is not None and r.status_code == 200 else []):
                verb = "approve" if rng.random() < 0.8 else "deny"
                d = _timed(t, verb, partial(c.post, f"/api/approvals/{a['id']}/{verb}", json={"note": "soak"}))
                if d is not None and d.status_code == 200:
                    with t.lock:
                        if verb == "approve":
                            t.approved += 1
                        else:
                            t.denied += 1
            stop.wait(rng.uniform(0.5, 1.5))


def _viewer(base: str, token: str, stop: threading.Event, t: Tally, seed: int) -> None:
    rng = random.Random(seed)
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=CLIENT_TIMEOUT_S) as c:
        while not stop.is_set():
            path = rng.choice(READS)
            _timed(t, "read", partial(c.get, path))
            stop.wait(rng.uniform(0.2, 1.0))


def warm_up(base: str, tokens: dict[str, str], t: Tally) -> None:
    """Every request kind once, one at a time, before the clock starts: one-time work (lazy imports of the
    tools' libraries, first compilations, caches) is not growth. Counted like any other request."""
    with httpx.Client(base_url=base, timeout=300) as c:
        op = {"Authorization": f"Bearer {tokens['operator']}"}
        ap = {"Authorization": f"Bearer {tokens['approver']}"}
        for i, text in enumerate(REQUESTS):
            body = {"model": "keel", "messages": [{"role": "user", "content": text}], "conversation_id": f"warm-{i}"}
            c.headers.update(op)
            if i % 2:
                _timed(t, "chat", partial(c.post, "/v1/chat/completions", json=body))
            else:
                _timed(t, "chat_stream", partial(_stream_chat, c, body))
        c.headers.update(ap)
        r = _timed(t, "approvals", partial(c.get, "/api/approvals", params={"status": "pending"}))
        for k, a in enumerate(r.json().get("approvals", []) if r is not None and r.status_code == 200 else []):
            verb = "approve" if k % 2 == 0 else "deny"
            _timed(t, verb, partial(c.post, f"/api/approvals/{a['id']}/{verb}", json={}))
        c.headers.update({"Authorization": f"Bearer {tokens['viewer']}"})
        for path in READS:
            _timed(t, "read", partial(c.get, path))


def run_soak(base: str, pid: int, tokens: dict[str, str], users: int, seconds: float, warmup_s: float,
             seed: int = 0, sample_s: float = 5.0, on_sample: Callable[[float, float, Tally], None] | None = None,
             ) -> SoakResult:
    """Drive `users` users (1 approver, ~1/5 viewers, the rest operators) at `base` for `seconds` seconds.

    `tokens` maps role (operator, approver, viewer) to a bearer token of that role.
    """
    if users < 2:
        raise ValueError(f"users: got {users}; need at least 2 (one approver and one operator)")
    t, stop = Tally(), threading.Event()
    warm_up(base, tokens, t)
    n_view = max(0, users // 5)
    threads = [threading.Thread(target=_approver, args=(base, tokens["approver"], stop, t, seed), daemon=True)]
    for i in range(n_view):
        threads.append(threading.Thread(target=_viewer, args=(base, tokens["viewer"], stop, t, seed + 100 + i),
                                        daemon=True))
    for i in range(users - 1 - n_view):
        threads.append(threading.Thread(target=_operator, args=(base, tokens["operator"], i, stop, t, seed + 200 + i),
                                        daemon=True))
    start = time.monotonic()
    for th in threads:
        th.start()
    samples: list[tuple[float, float]] = []
    rss_start: float | None = None
    while (elapsed := time.monotonic() - start) < seconds:
        mb = rss_mb(pid)
        samples.append((round(elapsed, 1), mb))
        if rss_start is None and elapsed >= warmup_s:
            rss_start = mb
        if on_sample is not None:
            on_sample(elapsed, mb, t)
        time.sleep(min(sample_s, max(0.0, seconds - elapsed)))
    stop.set()
    for th in threads:
        th.join(timeout=180)
    elapsed = time.monotonic() - start
    rss_end = rss_mb(pid)
    samples.append((round(elapsed, 1), rss_end))
    if rss_start is None:
        rss_start = samples[0][1]
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {tokens['viewer']}"}, timeout=300) as c:
        v = c.get("/api/audit/verify")
    report: dict[str, Any] = v.json() if v.status_code == 200 else {}
    if v.status_code != 200:
        t.record("verify", v.status_code, 0.0)
    lat = {k: sorted(v) for k, v in t.latencies_ms.items() if v}
    mid = next((mb for at, mb in samples if at >= elapsed / 2), rss_end)
    return SoakResult(
        users=users, seconds=elapsed, requests=t.ok + sum(t.errors.values()), errors=sum(t.errors.values()),
        error_kinds=dict(t.errors), rss_start_mb=rss_start, rss_end_mb=rss_end,
        rss_peak_mb=max(mb for _, mb in samples), rss_growth_pct=100.0 * (rss_end - rss_start) / rss_start,
        rss_growth_second_half_pct=100.0 * (rss_end - mid) / mid,
        chain_valid=bool(report.get("ok")), audit_records=int(report.get("records", 0)),
        approved=t.approved, denied=t.denied,
        p50_ms={k: statistics.median(v) for k, v in lat.items()},
        p95_ms={k: v[min(len(v) - 1, int(0.95 * len(v)))] for k, v in lat.items()},
        rss_samples=samples,
    )
