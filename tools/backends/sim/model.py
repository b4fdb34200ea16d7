"""The per-minute performance model: queueing latency, errors, CPU and memory, propagated along the call graph.

Pure functions over numpy arrays indexed by service (the order of `tools.services.SERVICES`).
Each replica is treated as an M/M/1 queue: mean sojourn = service time / (1 - utilisation), p50 = ln 2 and
p99 = ln 100 times the mean. Load above capacity accumulates in a queue that adds waiting time and, past
the timeout, errors. Callers add their callees' median latency per call (sequential calls) plus the tail
of their slowest callee, and inherit their callees' errors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tools.backends.sim.topology import EDGES, SPECS, visits_per_request
from tools.services import SERVICES

S = len(SERVICES)
IDX = {s: i for i, s in enumerate(SERVICES)}
METRIC_NAMES = ("cpu", "memory", "latency_p50", "latency_p99", "error_rate", "throughput", "replicas", "queue_depth")
M = {m: i for i, m in enumerate(METRIC_NAMES)}
UNITS = {
    "cpu": "% of requested CPU", "memory": "MB per replica", "latency_p50": "ms", "latency_p99": "ms",
    "error_rate": "fraction of requests", "throughput": "requests/s", "replicas": "ready replicas",
    "queue_depth": "queued requests",
}

CAPACITY = np.array([SPECS[s].capacity_rps for s in SERVICES])
SERVICE_MS = np.array([SPECS[s].service_ms for s in SERVICES])
BASE_MEM = np.array([SPECS[s].base_memory_mb for s in SERVICES])
MEM_LIMIT = np.array([SPECS[s].memory_limit_mb for s in SERVICES])
VISITS = np.array([visits_per_request()[s] for s in SERVICES])
TIMEOUT_S = 2.0
MAX_UTIL = 0.97
# callees in reverse topological order (leaves first) so each caller sees finished callee figures
_ORDER = [IDX[s] for s in ("redis-cart", "productcatalogservice", "currencyservice", "cartservice", "paymentservice",
                          "shippingservice", "emailservice", "adservice", "recommendationservice", "checkoutservice",
                          "frontend")]
_CALLS: list[list[tuple[int, float]]] = [[] for _ in range(S)]
for _a, _b, _c in EDGES:
    _CALLS[IDX[_a]].append((IDX[_b], _c))
LN2, LN100 = math.log(2), math.log(100)


@dataclass
class Effects:
    """Fault effects for one minute, per service (arrays of length S)."""

    capacity_factor: np.ndarray  # multiplies capacity (cpu_hog, restarts)
    cpu_extra: np.ndarray  # percentage points of CPU burnt outside request handling
    delay_ms: np.ndarray  # added latency (latency_injection)
    error_extra: np.ndarray  # share of requests failing on their own (bad deploy, OOM restart)
    load_factor: np.ndarray  # multiplies incoming load (traffic_spike)
    down: np.ndarray  # bool: crash-looping, serves nothing

    @classmethod
    def none(cls) -> Effects:
        return cls(np.ones(S), np.zeros(S), np.zeros(S), np.zeros(S), np.ones(S), np.zeros(S, dtype=bool))


def step_metrics(
    entry_rps: float,
    replicas: np.ndarray,
    queue: np.ndarray,
    memory_mb: np.ndarray,
    fx: Effects,
) -> tuple[np.ndarray, np.ndarray]:
    """One minute of the cluster. Returns (metrics [S, 8] without noise, new queue [S])."""
    offered = entry_rps * VISITS * fx.load_factor
    # A spike at the frontend reaches everything it calls.
    fe = IDX["frontend"]
    if fx.load_factor[fe] != 1.0:
        offered = offered * np.where(np.arange(S) == fe, 1.0, fx.load_factor[fe])
    memory_frac = memory_mb / MEM_LIMIT
    gc_penalty = 1.0 + 3.0 * np.clip((memory_frac - 0.85) / 0.15, 0.0, 1.0)
    cap = CAPACITY * np.maximum(replicas, 0) * fx.capacity_factor / gc_penalty
    cap = np.where(fx.down, 0.0, cap)
    backlog = queue / 60.0 + offered  # rps wanting service this minute
    served = np.minimum(backlog, cap * 0.999)
    new_queue = np.maximum(0.0, (backlog - served) * 60.0)
    # requests that would wait longer than the timeout are dropped as errors
    max_queue = cap * TIMEOUT_S
    dropped = np.maximum(0.0, new_queue - max_queue)
    new_queue = np.minimum(new_queue, max_queue)
    util = np.divide(served, cap, out=np.ones(S), where=cap > 0)
    rho = np.minimum(util, MAX_UTIL)
    mean_ms = SERVICE_MS * gc_penalty / (1.0 - rho)
    wait_ms = np.divide(new_queue, cap, out=np.zeros(S), where=cap > 0) * 1000.0
    p50 = mean_ms * LN2 + wait_ms + fx.delay_ms
    p99 = mean_ms * LN100 + wait_ms + fx.delay_ms * 1.5
    own_err = np.divide(dropped / 60.0, np.maximum(offered, 1e-9), out=np.zeros(S), where=offered > 0)
    own_err = 1.0 - (1.0 - np.clip(own_err, 0, 1)) * (1.0 - fx.error_extra) * (1.0 - 0.0005)
    own_err = np.where(fx.down | (cap <= 0), 1.0, own_err)
    err = own_err.copy()
    for i in _ORDER:
        ok = 1.0 - own_err[i]
        tail = 0.0
        for j, calls in _CALLS[i]:
            p50[i] += calls * p50[j]
            p99[i] += calls * p50[j]
            tail = max(tail, p99[j] - p50[j])  # the slowest dependency dominates the tail
            ok *= (1.0 - err[j]) ** calls
        p99[i] += tail
        err[i] = 1.0 - ok
    p50 = np.minimum(p50, TIMEOUT_S * 1000.0 * 5)
    p99 = np.minimum(p99, TIMEOUT_S * 1000.0 * 10)
    throughput = served  # requests handled per second (successful or not)
    cpu_cap = CAPACITY * np.maximum(replicas, 1)
    cpu = np.where(fx.down, 2.0, np.minimum(100.0, 100.0 * served / cpu_cap * gc_penalty + fx.cpu_extra))
    out = np.empty((S, len(METRIC_NAMES)))
    out[:, M["cpu"]] = cpu
    out[:, M["memory"]] = memory_mb
    out[:, M["latency_p50"]] = p50
    out[:, M["latency_p99"]] = p99
    out[:, M["error_rate"]] = err
    out[:, M["throughput"]] = throughput
    out[:, M["replicas"]] = np.where(fx.down, 0, replicas)
    out[:, M["queue_depth"]] = new_queue
    return out, new_queue
