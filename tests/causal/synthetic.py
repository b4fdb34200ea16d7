"""Synthetic incidents for the causal tests: a call chain whose leaf (or any chosen component) degrades."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import numpy as np

from causal.case import Case, frame

CHAIN = ("gateway", "orders", "stock", "db")  # caller -> callee


def chain_case(root: str = "stock", n: int = 120, onset_row: int = 80, seed: int = 0, graph: bool = True,
               name: str = "synthetic") -> Case:
    """Latency propagates from `root` up to every caller; `root` also burns CPU. One row per 10 s."""
    rng = np.random.default_rng(seed)
    times = 1_700_000_000.0 + 10.0 * np.arange(n)
    fault = np.arange(n) >= onset_row
    cols: dict[tuple[str, str], np.ndarray] = {}
    own = {c: 20.0 + 2.0 * i for i, c in enumerate(CHAIN)}
    latency: dict[str, np.ndarray] = {}
    for c in reversed(CHAIN):  # callees first
        base = own[c] + rng.normal(0, 1.0, n)
        callee = CHAIN[CHAIN.index(c) + 1] if c != CHAIN[-1] else None
        lat = base + (latency[callee] if callee else 0.0)
        if c == root:
            lat = lat + np.where(fault, 200.0, 0.0)
        latency[c] = lat
        cols[(c, "latency_ms")] = lat
        cpu = 30.0 + rng.normal(0, 1.5, n) + np.where(fault & (c == root), 55.0, 0.0)
        cols[(c, "cpu")] = cpu
        cols[(c, "memory_mb")] = 500.0 + np.cumsum(rng.normal(0, 0.2, n))
    g = nx.DiGraph(list(zip(CHAIN[:-1], CHAIN[1:], strict=True))) if graph else None
    return Case(name=name, metrics=frame(cols, times), root_cause=root, onset=float(times[onset_row]),
                fault="cpu", graph=g, dataset="synthetic")


def write_generic(root: Path, cases: list[Case], shared_graph: bool = True) -> Path:
    """Write cases in the generic layout (metrics.csv, label.json, DIR/graph.csv)."""
    root.mkdir(parents=True, exist_ok=True)
    for c in cases:
        d = root / c.name
        d.mkdir(parents=True, exist_ok=True)
        table = c.metrics.copy()
        table.columns = [f"{a}:{b}" for a, b in table.columns]
        table.insert(0, "time", table.index)
        table.to_csv(d / "metrics.csv", index=False)
        (d / "label.json").write_text(json.dumps({"root_cause": c.root_cause, "onset": c.onset, "fault": c.fault}))
    if shared_graph:
        edges = zip(CHAIN[:-1], CHAIN[1:], strict=True)
        (root / "graph.csv").write_text("source,target\n" + "".join(f"{a},{b}\n" for a, b in edges))
    return root
