"""Log lines the simulated services would write, derived from each minute's metrics, faults and events.

Lines are generated on demand and are deterministic for (seed, minute, service), so the simulator stores
no log text and clone() stays cheap.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from tools.backends.sim.cluster import Simulator
from tools.backends.sim.model import M

EPOCH = 1_767_225_600  # 2026-01-01T00:00:00Z: simulated minute 0


@dataclass(frozen=True)
class LogLine:
    ts: float  # epoch seconds
    minute: int
    service: str
    level: str  # error | warn | info
    message: str

    def to_dict(self) -> dict[str, object]:
        return {"ts": round(self.ts, 3), "service": self.service, "level": self.level, "message": self.message}


_INFO = {
    "frontend": ["GET / 200", "GET /product/{p} 200", "POST /cart 302", "GET /cart 200"],
    "cartservice": ["GetCart user_id={u} items={n}", "AddItem user_id={u} product_id={p}"],
    "productcatalogservice": ["GetProduct id={p}", "ListProducts returned 9 products"],
    "currencyservice": ["conversion request successful", "Getting supported currencies..."],
    "paymentservice": ["Transaction processed: visa ending 4242 amount USD {n}.99"],
    "shippingservice": ["[GetQuote] received request", "[ShipOrder] completed request"],
    "emailservice": ["A request to send order confirmation email to {u}@example.com has been received."],
    "checkoutservice": ["payment went through (transaction_id: {u})", "order confirmation email sent"],
    "recommendationservice": ["[Recv ListRecommendations] product_ids=['{p}']"],
    "adservice": ["received ad request (context_words=[{p}])"],
    "redis-cart": ["DB saved on disk", "Background saving started by pid {n}"],
}
# services that log their slow queries (by name, else any service whose `language` is a database)
_SLOW_QUERY = {"productcatalogservice": "ListProducts"}
_DATABASES = frozenset({"postgres", "postgresql", "mysql", "mariadb", "mongodb", "cassandra"})
# any other service: generic request lines
_GENERIC = ["handled request id={u} in {n}ms", "GET /healthz 200", "request completed status=200 id={u}"]


def _rng(seed: int, minute: int, service: str) -> np.random.Generator:
    return np.random.default_rng([seed, minute, zlib.crc32(service.encode())])


def lines_for(sim: Simulator, service: str, minute: int) -> list[LogLine]:
    """Every line `service` logged during `minute` (which must already be simulated)."""
    rng = _rng(sim.seed, minute, service)
    i = sim.idx[service]
    row = sim.history[minute, i]
    t0 = EPOCH + minute * 60.0
    out: list[LogLine] = []

    def add(level: str, msg: str) -> None:
        out.append(LogLine(t0 + float(rng.uniform(0, 59.9)), minute, service, level, msg))

    def fill(msg: str) -> str:
        return msg.format(p=f"{rng.integers(1, 10**6):06X}", u=f"{rng.integers(1, 10**8):08x}", n=rng.integers(1, 99))

    for _ in range(int(rng.integers(1, 3))):
        add("info", fill(str(rng.choice(_INFO.get(service, _GENERIC)))))
    for e in sim.events:
        if e.minute == minute and e.service == service:
            if e.kind == "oom_kill":
                add("error", f"OOMKilled: {e.detail}; container restarted (exit code 137)")
            elif e.kind == "deploy":
                add("info", f"Deployment updated: {e.detail}")
            elif e.kind == "restart":
                add("info", f"Received SIGTERM, shutting down gracefully ({e.detail})")
            elif e.kind == "rollback":
                add("warn", f"Rolled back deployment: {e.detail}")
            elif e.kind == "scale":
                add("info", f"Scaled deployment: {e.detail}")
    active = {f.type: f for f in sim.faults if f.service == service and f.active(minute)}
    err, p99, cpu = row[M["error_rate"]], row[M["latency_p99"]], row[M["cpu"]]
    mem, queue = row[M["memory"]], row[M["queue_depth"]]
    if "crash" in active:
        add("error", "panic: runtime error: invalid memory address or nil pointer dereference")
        add("error", f"Back-off restarting failed container {service} (CrashLoopBackOff)")
    if "error_burst" in active:
        for _ in range(int(rng.integers(2, 5))):
            add("error", fill(str(rng.choice([
                "HTTP 500 Internal Server Error: unhandled exception in request handler",
                "rpc error: code = Internal desc = failed to process request id={u}",
                "NullReferenceException at Handler.Process (new code path)",
            ]))))
    limit = sim.topology.arrays.mem_limit[i]
    if "memory_leak" in active and mem > 0.75 * limit:
        add("warn", f"GC overhead high: heap {mem:.0f}MB of {limit:.0f}MB limit")
    if "cpu_hog" in active or cpu > 90:
        add("warn", f"CPU throttling detected: usage {cpu:.0f}% of limit")
    if "latency_injection" in active:
        add("warn", fill("slow request: handler took {n}0ms over budget"))
    if "traffic_spike" in active:
        add("warn", f"request rate {row[M['throughput']]:.0f} rps above normal; connection pool saturated")
    if queue > 0:
        add("warn", f"request queue depth {queue:.0f}, latency p99 {p99:.0f}ms")
    if p99 > 1000 and "crash" not in active:
        add("error", f"context deadline exceeded after {p99 / 1000:.1f}s")
    if err > 0.05 and "error_burst" not in active and "crash" not in active:
        for callee in sim.topology.callee_map[service]:
            crow = sim.history[minute, sim.idx[callee]]
            if crow[M["error_rate"]] > 0.05:
                add("error", f"rpc error: code = Unavailable desc = {callee}: upstream connect error or disconnect")
            elif crow[M["latency_p99"]] > 1000:
                add("error", f"rpc error: code = DeadlineExceeded desc = call to {callee} timed out")
    query = _SLOW_QUERY.get(service) or ("SELECT" if sim.topology.spec(service).language in _DATABASES else "")
    if query and p99 > 300:
        add("warn", f"slow query: {query} took {p99 * 0.6:.0f}ms")
    for at, svc, level, message in sim.planted_logs:
        if at == minute and svc == service:
            add(level, message)
    return sorted(out, key=lambda line: line.ts)


def search(
    sim: Simulator,
    query: str = "",
    service: str | None = None,
    level: str | None = None,
    window: int = 15,
    limit: int = 20,
) -> tuple[list[LogLine], int]:
    """Lines matching (case-insensitive substring) in the last `window` minutes, newest first; and the total."""
    services = [service] if service else list(sim.services)
    q = query.lower()
    hits: list[LogLine] = []
    for minute in range(max(0, sim.minute - window), sim.minute):
        for svc in services:
            for line in lines_for(sim, svc, minute):
                if level and line.level != level:
                    continue
                if q and q not in line.message.lower() and q not in line.service:
                    continue
                hits.append(line)
    hits.sort(key=lambda line: -line.ts)
    return hits[:limit], len(hits)
