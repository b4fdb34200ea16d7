"""The per-minute performance model: queueing latency, errors, CPU and memory, propagated along the call graph.

Pure functions over numpy arrays indexed by service in the order of a `tools.topology.Topology`.
Each replica is treated as an M/M/1 queue: mean sojourn = service time / (1 - utilisation), p50 = ln 2 and
p99 = ln 100 times the mean. Load above capacity accumulates in a queue that adds waiting time and, past
the timeout, errors. Callers add their callees' median latency per call (sequential calls) plus the tail
of their slowest callee, and inherit their callees' errors. Propagation runs level by level, leaves
first, vectorised over each level's calls (`np.add.at` keeps each caller's own order of its calls), so a
topology of a thousand services costs about what the call graph's depth costs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tools.topology import Topology

METRIC_NAMES = ("cpu", "memory", "latency_p50", "latency_p99", "error_rate", "throughput", "replicas", "queue_depth")
M = {m: i for i, m in enumerate(METRIC_NAMES)}
UNITS = {
    "cpu": "% of requested CPU", "memory": "MB per replica", "latency_p50": "ms", "latency_p99": "ms",
    "error_rate": "fraction of requests", "throughput": "requests/s", "replicas": "ready replicas",
    "queue_depth": "queued requests",
}

TIMEOUT_S = 2.0
MAX_UTIL = 0.97
LN2, LN100 = math.log(2), math.log(100)
SCALAR_EDGES = 64  # call graphs up to this many calls propagate in a scalar loop (cheaper than array calls)


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
    def none(cls, n: int) -> Effects:
        """No fault on any of `n` services."""
        return cls(np.ones(n), np.zeros(n), np.zeros(n), np.zeros(n), np.ones(n), np.zeros(n, dtype=bool))


def _pow(base: np.ndarray, fractional: np.ndarray, exponents: tuple[float, ...]) -> np.ndarray:
    """base ** calls per call through the scalar libm power (as a Python loop over the calls computes it);
    x ** 1 is x, so only the `fractional` positions (with `exponents`) are computed."""
    if exponents:
        base[fractional] = list(map(pow, base[fractional].tolist(), exponents))
    return base


def _propagate_scalar(topo: Topology, p50: np.ndarray, p99: np.ndarray,
                      own_err: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Callees' latency and errors into their callers, one call at a time (small graphs)."""
    l50, l99, own = p50.tolist(), p99.tolist(), own_err.tolist()
    err = list(own)
    for i, calls in topo.calls_leaves_first:
        ok = 1.0 - own[i]
        tail = 0.0
        for j, k in calls:
            l50[i] += k * l50[j]
            l99[i] += k * l50[j]
            tail = max(tail, l99[j] - l50[j])  # the slowest dependency dominates the tail
            ok *= (1.0 - err[j]) ** k
        l99[i] += tail
        err[i] = 1.0 - ok
    return np.array(l50), np.array(l99), np.array(err)


def _propagate_levels(topo: Topology, p50: np.ndarray, p99: np.ndarray,
                      own_err: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The same, vectorised over each level's calls (large graphs); `ufunc.at` adds a caller's calls in order."""
    err = own_err.copy()
    ok = 1.0 - own_err
    tail = np.zeros(len(topo))
    for level in topo.levels:
        c, j = level.callers, level.callees
        if c.size:
            down = level.calls * p50[j]
            np.add.at(p50, c, down)
            np.add.at(p99, c, down)
            np.maximum.at(tail, c, p99[j] - p50[j])
            np.multiply.at(ok, c, _pow(1.0 - err[j], level.fractional, level.exponents))
        p99[level.nodes] += tail[level.nodes]
        err[level.nodes] = 1.0 - ok[level.nodes]
    return p50, p99, err


def step_metrics(
    topo: Topology,
    entry_rps: float,
    replicas: np.ndarray,
    queue: np.ndarray,
    memory_mb: np.ndarray,
    fx: Effects,
) -> tuple[np.ndarray, np.ndarray]:
    """One minute of the cluster. Returns (metrics [S, 8] without noise, new queue [S])."""
    a = topo.arrays
    n = len(topo)
    offered = entry_rps * a.visits * fx.load_factor
    # A spike at the entry service reaches everything it calls.
    fe = topo.idx[topo.entry]
    if fx.load_factor[fe] != 1.0:
        offered = offered * np.where(np.arange(n) == fe, 1.0, fx.load_factor[fe])
    memory_frac = memory_mb / a.mem_limit
    gc_penalty = 1.0 + 3.0 * np.clip((memory_frac - 0.85) / 0.15, 0.0, 1.0)
    cap = a.capacity * np.maximum(replicas, 0) * fx.capacity_factor / gc_penalty
    cap = np.where(fx.down, 0.0, cap)
    backlog = queue / 60.0 + offered  # rps wanting service this minute
    served = np.minimum(backlog, cap * 0.999)
    new_queue = np.maximum(0.0, (backlog - served) * 60.0)
    # requests that would wait longer than the timeout are dropped as errors
    max_queue = cap * TIMEOUT_S
    dropped = np.maximum(0.0, new_queue - max_queue)
    new_queue = np.minimum(new_queue, max_queue)
    util = np.divide(served, cap, out=np.ones(n), where=cap > 0)
    rho = np.minimum(util, MAX_UTIL)
    mean_ms = a.service_ms * gc_penalty / (1.0 - rho)
    wait_ms = np.divide(new_queue, cap, out=np.zeros(n), where=cap > 0) * 1000.0
    p50 = mean_ms * LN2 + wait_ms + fx.delay_ms
    p99 = mean_ms * LN100 + wait_ms + fx.delay_ms * 1.5
    own_err = np.divide(dropped / 60.0, np.maximum(offered, 1e-9), out=np.zeros(n), where=offered > 0)
    own_err = 1.0 - (1.0 - np.clip(own_err, 0, 1)) * (1.0 - fx.error_extra) * (1.0 - 0.0005)
    own_err = np.where(fx.down | (cap <= 0), 1.0, own_err)
    if len(topo.edges) <= SCALAR_EDGES:
        p50, p99, err = _propagate_scalar(topo, p50, p99, own_err)
    else:
        p50, p99, err = _propagate_levels(topo, p50, p99, own_err)
    p50 = np.minimum(p50, TIMEOUT_S * 1000.0 * 5)
    p99 = np.minimum(p99, TIMEOUT_S * 1000.0 * 10)
    throughput = served  # requests handled per second (successful or not)
    cpu_cap = a.capacity * np.maximum(replicas, 1)
    cpu = np.where(fx.down, 2.0, np.minimum(100.0, 100.0 * served / cpu_cap * gc_penalty + fx.cpu_extra))
    out = np.empty((n, len(METRIC_NAMES)))
    out[:, M["cpu"]] = cpu
    out[:, M["memory"]] = memory_mb
    out[:, M["latency_p50"]] = p50
    out[:, M["latency_p99"]] = p99
    out[:, M["error_rate"]] = err
    out[:, M["throughput"]] = throughput
    out[:, M["replicas"]] = np.where(fx.down, 0, replicas)
    out[:, M["queue_depth"]] = new_queue
    return out, new_queue
