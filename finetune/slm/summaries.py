"""Incident-summary training examples: random findings dicts -> a grounded 1-3 sentence summary."""

from __future__ import annotations

import random
from typing import Any

from agent.planner.prompt import render_summary_prompt
from agent.planner.summary import template_summary
from tools.services import current_topology, service_names

_METRICS = {"latency_p99": ("ms", 80, 3000), "latency_p50": ("ms", 10, 600), "error_rate": ("", 0.0, 0.6),
            "cpu": ("%", 10, 100), "memory": ("MB", 100, 2000), "throughput": ("rps", 20, 2000),
            "queue_depth": ("", 0, 500)}


def _value(rng: random.Random, lo: float, hi: float, ratio: bool) -> float:
    v = rng.uniform(lo, hi)
    return round(v, 3) if ratio else float(round(v))


def _busiest_caller() -> str:
    """The service (besides the entry) calling the most others: where timeouts to dependencies show first."""
    topo = current_topology()
    inner = [s for s in topo.names if s != topo.entry] or list(topo.names)
    return max(inner, key=lambda s: len(topo.callee_map[s]))


def random_findings(rng: random.Random) -> dict[str, Any]:
    f: dict[str, Any] = {}
    names = service_names()
    sym_svc = rng.choice(names)
    if rng.random() < 0.9:
        m = rng.choice(list(_METRICS))
        unit, lo, hi = _METRICS[m]
        before = _value(rng, lo, (lo + hi) / 3, m == "error_rate")
        now = _value(rng, (lo + hi) / 3, hi, m == "error_rate")
        sym: dict[str, Any] = {"service": sym_svc, "metric": m, "unit": unit}
        if rng.random() < 0.8:
            sym["before"] = before
        sym["now"] = now
        f["symptom"] = sym
    if rng.random() < 0.75:
        f["root_cause"] = {"service": rng.choice(names), "score": round(rng.uniform(0.3, 0.98), 2)}
    if rng.random() < 0.5:
        tool = rng.choice(["restart_service", "rollback_deployment", "scale_service", "run_runbook"])
        act: dict[str, Any] = {"tool": tool, "service": f.get("root_cause", {}).get("service", sym_svc),
                               "status": rng.choice(["ok", "ok", "ok", "pending_approval", "denied", "error"])}
        if tool == "scale_service":
            act["replicas"] = rng.randint(2, 12)
        f["actions"] = [act]
    if rng.random() < 0.3:
        f["evidence"] = [rng.choice([f"context deadline exceeded in {_busiest_caller()} logs", "OOMKilled events",
                                     "HTTP 500 after deploy", "CPU throttling detected"])]
    if rng.random() < 0.4:
        f["status"] = rng.choice(["open", "mitigated", "resolved"])
    return f


def summary_examples(rng: random.Random, n: int) -> list[dict[str, Any]]:
    out = []
    for _ in range(n):
        findings = random_findings(rng)
        text = template_summary(findings, variant=rng.randint(1, 10_000))
        out.append({"prompt": render_summary_prompt(findings), "target": " " + text + "\n", "kind": "summary",
                    "family": "summary", "tool": "summary", "args": {}})
    return out
