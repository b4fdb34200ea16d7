"""The generic layout other datasets are converted to.

`DIR/<case>/metrics.csv`: column `time` (epoch seconds), then one column per `component:metric`;
`DIR/<case>/label.json`: `{"root_cause": component, "onset": epoch_seconds, "fault": type}` (onset and
fault optional); optional call graph `DIR/<case>/graph.csv` or `DIR/graph.csv` with `source,target`
(caller -> callee). Components are scored as themselves.
"""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import pandas as pd

from causal.case import Case, CaseError


def read_graph(path: Path) -> nx.DiGraph:
    df = pd.read_csv(path)
    cols = {c.lower(): c for c in df.columns}
    if "source" not in cols or "target" not in cols:
        raise CaseError(f"{path}: expected columns source,target; got {list(df.columns)}")
    g = nx.DiGraph()
    g.add_edges_from(zip(df[cols["source"]].astype(str), df[cols["target"]].astype(str), strict=True))
    return g


def read_metrics(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path)
    if "time" not in df.columns:
        raise CaseError(f"{path}: expected a `time` column (epoch seconds)")
    bad = [c for c in df.columns if c != "time" and ":" not in c]
    if bad:
        raise CaseError(f"{path}: columns must be `component:metric`; bad: {bad[:5]}")
    df = df.sort_values("time").drop_duplicates("time", keep="last")
    cols = [c for c in df.columns if c != "time"]
    out = df[cols].apply(pd.to_numeric, errors="coerce")
    out.index = df["time"].to_numpy(dtype=float)
    out.index.name = "time"
    out.columns = pd.MultiIndex.from_tuples([tuple(c.split(":", 1)) for c in cols], names=["component", "metric"])
    return out


def load_case(case_dir: Path, shared_graph: nx.DiGraph | None, dataset: str) -> Case:
    label = json.loads((case_dir / "label.json").read_text()) if (case_dir / "label.json").exists() else {}
    if not isinstance(label, dict):
        raise CaseError(f"{case_dir}/label.json: expected an object with root_cause, onset, fault")
    graph = read_graph(case_dir / "graph.csv") if (case_dir / "graph.csv").exists() else shared_graph
    onset = label.get("onset")
    return Case(
        name=case_dir.name,
        metrics=read_metrics(case_dir / "metrics.csv"),
        root_cause=label.get("root_cause"),
        onset=float(onset) if onset is not None else None,
        fault=label.get("fault"),
        graph=graph,
        dataset=dataset,
    )


def load_generic(root: Path) -> list[Case]:
    shared = read_graph(root / "graph.csv") if (root / "graph.csv").exists() else None
    cases = [
        load_case(d, shared, root.name)
        for d in sorted(root.iterdir())
        if d.is_dir() and (d / "metrics.csv").exists()
    ]
    if not cases:
        raise ValueError(f"path: no cases (<case>/metrics.csv) under {root}")
    return cases
