"""What kind of problem a root-cause candidate shows, read from its own metrics, and the write that usually
mitigates it.

Plain RED/USE rules an on-call engineer applies after root-cause ranking, in this order:
- crash: throughput fell to (almost) nothing while the error rate is high, or no replica is running
  -> restart_service;
- memory_leak: memory climbed by 30% or more from its low point in the window -> restart_service;
- saturation: CPU at 75% of its limit or more, or up by 60% to at least 45% (or a growing request queue with
  busy CPU); the reason names the traffic rise when throughput grew by half or more -> scale_service;
- error_spike: the error rate rose by 5 points or more with traffic steady (a bad change is the usual
  cause) -> rollback_deployment;
- latency: p50 or p99 at least doubled with none of the above (added delay: no write fixes it safely)
  -> none;
- unclear: nothing above holds -> none.

The suggestion is evidence for the planner, never a decision: every write still goes through governance.
Pure functions over arrays; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

ACTIONS = {"crash": "restart_service", "memory_leak": "restart_service", "saturation": "scale_service",
           "error_spike": "rollback_deployment", "latency": "none", "unclear": "none"}
CPU_BUSY = 75.0  # percent of the CPU limit
CPU_RISE, CPU_RISEN_FLOOR = 1.6, 45.0  # or CPU up by 60% to at least 45% of the limit
MEMORY_RISE = 1.3  # window max / window min
ERROR_RISE = 0.05  # absolute rise of the error ratio
TRAFFIC_RISE = 1.5
LATENCY_RISE = 2.0


@dataclass(frozen=True)
class Signature:
    kind: str  # crash | memory_leak | saturation | error_spike | latency | unclear
    action: str  # restart_service | scale_service | rollback_deployment | none
    because: str  # the figures behind the kind, from the metrics

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "action": self.action, "because": self.because}


@dataclass(frozen=True)
class _Stat:
    base: float  # median before the onset
    now: float  # median of the last three samples
    low: float  # the low point before the largest rise in the window
    high: float  # the top of that rise (a rise, not a fall)


def _stat(values: np.ndarray, onset_index: int) -> _Stat | None:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return None
    k = int(min(max(onset_index, 1), v.size))
    lows = np.minimum.accumulate(v)  # the lowest value so far, at each sample
    safe = np.where(lows > 0, lows, np.nan)
    j = int(np.nanargmax(v / safe)) if np.isfinite(safe).any() else 0
    return _Stat(float(np.median(v[:k])), float(np.median(v[-3:])), float(lows[j]), float(v[j]))


def _f(x: float) -> str:
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 1:
        return f"{x:.1f}".rstrip("0").rstrip(".")
    return f"{x:.2g}"


def classify(series: Mapping[str, np.ndarray], onset_index: int) -> Signature:
    """The kind of problem `series` (metric -> values over the window, oldest first) shows after
    `onset_index` (the first post-onset sample)."""
    s = {m: st for m, v in series.items() if (st := _stat(v, onset_index)) is not None}
    thr, err, mem, cpu = s.get("throughput"), s.get("error_rate"), s.get("memory"), s.get("cpu")
    reps, queue = s.get("replicas"), s.get("queue_depth")
    p50, p99 = s.get("latency_p50"), s.get("latency_p99")

    if reps is not None and reps.base >= 1 and reps.now < 0.5:
        return Signature("crash", ACTIONS["crash"], f"replicas running {_f(reps.base)}->0")
    if thr is not None and err is not None and thr.base > 0 and thr.now <= 0.1 * thr.base and err.now >= 0.5:
        return Signature("crash", ACTIONS["crash"],
                         f"throughput {_f(thr.base)}->{_f(thr.now)} rps, errors {_f(100 * err.now)}%")
    if mem is not None and mem.low > 0 and mem.high >= MEMORY_RISE * mem.low:
        return Signature("memory_leak", ACTIONS["memory_leak"],
                         f"memory {_f(mem.low)}->{_f(mem.high)} MB in the window")
    busy = cpu is not None and (cpu.now >= CPU_BUSY or cpu.now >= max(CPU_RISE * cpu.base, CPU_RISEN_FLOOR) or
                                (queue is not None and queue.now >= 10 and cpu.now >= 0.9 * CPU_BUSY))
    if busy and cpu is not None:
        traffic = thr is not None and thr.base > 0 and thr.now >= TRAFFIC_RISE * thr.base
        why = f"cpu {_f(cpu.base)}->{_f(cpu.now)}%"
        if traffic and thr is not None:
            why += f", traffic {_f(thr.base)}->{_f(thr.now)} rps"
        return Signature("saturation", ACTIONS["saturation"], why)
    if err is not None and err.now - err.base >= ERROR_RISE:
        return Signature("error_spike", ACTIONS["error_spike"],
                         f"errors {_f(100 * err.base)}->{_f(100 * err.now)}% with traffic steady")
    for name, lat in (("p50", p50), ("p99", p99)):
        if lat is not None and lat.base > 0 and lat.now >= LATENCY_RISE * lat.base:
            return Signature("latency", ACTIONS["latency"], f"{name} {_f(lat.base)}->{_f(lat.now)} ms, "
                             "cpu, errors and traffic steady")
    return Signature("unclear", ACTIONS["unclear"], "no crash, leak, saturation, error or latency pattern")
