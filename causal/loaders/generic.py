"""The generic layout other datasets are converted to, read tolerantly with precise errors.

`DIR/<case>/metrics.csv`
    one time column (`time`, `timestamp`, `ts` or `datetime`; epoch seconds, epoch milliseconds or ISO-8601
    strings), then one column per `component:metric`. The split is at the last single `:`, so `::` inside a
    component name stays (`checkout_AWS::Lambda:Errors` is component `checkout_AWS::Lambda`, metric
    `Errors`). Rows are sorted by time, repeated times keep the last row, cells that are not numbers are
    gaps, columns with no number at all are dropped (named in `meta["dropped_columns"]`).
`DIR/<case>/label.json`
    `{"root_cause": component or service, "onset": epoch seconds/ms or ISO-8601, "fault": type}`; also read:
    `root_causes` (a list: the first is scored), `onset_time`/`inject_time`/`start`, `fault_type`/`type`.
    Onset and fault are optional; a missing label file leaves the case unlabelled.
`DIR/<case>/graph.csv` or `DIR/graph.csv` (optional)
    call edges caller -> callee: columns `source,target` (or `caller,callee`, `from,to`, `src,dst`, any
    case); extra columns are ignored, self-loops dropped. Nodes may be components, services, or names with
    no metrics at all (the analysis bridges through them).

Components are grouped into services by name (`causal.components`: `X`, `X-db`, `X_AWS::Lambda` -> `X`);
rankings and labels are compared at service level.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from causal.case import Case, CaseError
from causal.components import group

TIME_COLUMNS = ("time", "timestamp", "ts", "datetime")
GRAPH_COLUMNS = (("source", "target"), ("caller", "callee"), ("from", "to"), ("src", "dst"))
ROOT_KEYS = ("root_cause", "root_causes", "rootcause", "root")
ONSET_KEYS = ("onset", "onset_time", "inject_time", "inject_timestamp", "start")
FAULT_KEYS = ("fault", "fault_type", "type")
_SPLIT = re.compile(r"(?<!:):(?!:)")  # a colon that is not part of `::`


def _epoch(values: pd.Series, where: str) -> np.ndarray:
    """Epoch seconds from epoch seconds, epoch milliseconds or date strings."""
    num = pd.to_numeric(values, errors="coerce")
    if num.notna().all():
        t = num.to_numpy(dtype=float)
        return t / 1000.0 if np.nanmedian(np.abs(t)) > 1e11 else t
    try:
        stamps = pd.to_datetime(values.astype(str), utc=True, format="mixed")
    except (ValueError, TypeError) as e:
        bad = values[num.isna()].astype(str).head(3).tolist()
        raise CaseError(f"{where}: times must be epoch seconds, epoch ms or ISO-8601; unreadable: {bad}") from e
    return ((stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)).to_numpy(dtype=float)


def split_column(name: str) -> tuple[str, str] | None:
    """`component:metric` at the last single colon; None when there is none or a side is empty."""
    cuts = [m.start() for m in _SPLIT.finditer(name)]
    if not cuts:
        return None
    i = cuts[-1]
    comp, metric = name[:i].strip(), name[i + 1 :].strip()
    return (comp, metric) if comp and metric else None


def read_metrics(path: Path) -> tuple[pd.DataFrame, list[str]]:
    """(table with (component, metric) columns indexed by epoch seconds, columns dropped for having no numbers)."""
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise CaseError(f"{path}: not a readable CSV ({type(e).__name__}: {e})") from e
    lower = {str(c).strip().lower(): c for c in df.columns}
    tcol = next((lower[k] for k in TIME_COLUMNS if k in lower), None)
    if tcol is None:
        raise CaseError(f"{path}: expected a time column named one of {', '.join(TIME_COLUMNS)}; "
                        f"got {[str(c) for c in df.columns[:6]]}")
    if df.empty:
        raise CaseError(f"{path}: no rows")
    cols = [c for c in df.columns if c != tcol and not str(c).startswith("Unnamed:")]
    pairs = {c: split_column(str(c)) for c in cols}
    bad = [str(c) for c, p in pairs.items() if p is None]
    if bad:
        raise CaseError(f"{path}: metric columns must be named `component:metric`; bad: {bad[:5]}"
                        + (f" and {len(bad) - 5} more" if len(bad) > 5 else ""))
    if not cols:
        raise CaseError(f"{path}: no metric columns besides `{tcol}`")
    t = _epoch(df[tcol], str(path))
    keep_rows = np.isfinite(t)
    values = df.loc[keep_rows, cols].apply(pd.to_numeric, errors="coerce")
    values.index = t[keep_rows]
    values = values[~values.index.duplicated(keep="last")].sort_index()
    if values.empty:
        raise CaseError(f"{path}: no row has a readable time")
    dropped = [str(c) for c in cols if values[c].notna().sum() == 0]
    values = values.drop(columns=dropped)
    if values.shape[1] == 0:
        raise CaseError(f"{path}: no metric column holds a number")
    tuples = [pairs[c] for c in values.columns]
    values.columns = pd.MultiIndex.from_tuples(tuples, names=["component", "metric"])
    values = values.T.groupby(level=[0, 1], sort=False).last().T  # the same column named twice: keep one
    values.index.name = "time"
    return values, dropped


def read_graph(path: Path) -> nx.DiGraph:
    try:
        df = pd.read_csv(path, dtype=str)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise CaseError(f"{path}: not a readable CSV ({type(e).__name__}: {e})") from e
    lower = {str(c).strip().lower(): c for c in df.columns}
    pair = next(((lower[a], lower[b]) for a, b in GRAPH_COLUMNS if a in lower and b in lower), None)
    if pair is None:
        allowed = " or ".join(f"{a},{b}" for a, b in GRAPH_COLUMNS)
        raise CaseError(f"{path}: expected columns {allowed}; got {[str(c) for c in df.columns]}")
    g = nx.DiGraph()
    for a, b in zip(df[pair[0]], df[pair[1]], strict=True):
        if isinstance(a, str) and isinstance(b, str) and a.strip() and b.strip() and a.strip() != b.strip():
            g.add_edge(a.strip(), b.strip())
    return g


def _first(label: dict[str, Any], keys: tuple[str, ...]) -> Any:
    return next((label[k] for k in keys if label.get(k) not in (None, "", [])), None)


def read_label(path: Path) -> dict[str, Any]:
    """{root_cause, onset, fault} from a label file (values None when absent)."""
    try:
        label = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise CaseError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from e
    if not isinstance(label, dict):
        raise CaseError(f"{path}: expected an object with root_cause, onset, fault; got {type(label).__name__}")
    root = _first(label, ROOT_KEYS)
    if isinstance(root, list):
        root = root[0]
    if root is not None and not isinstance(root, str):
        raise CaseError(f"{path}: root_cause must be a component or service name (a string); got {root!r}")
    onset = _first(label, ONSET_KEYS)
    if onset is not None:
        onset = float(_epoch(pd.Series([onset]), f"{path}: onset")[0])
    fault = _first(label, FAULT_KEYS)
    return {"root_cause": root.strip() if root else None, "onset": onset,
            "fault": str(fault) if fault is not None else None}


def _resolve(name: str | None, known: list[str]) -> str | None:
    """The label's root cause as spelt in the data (exact, else the unique case-insensitive match)."""
    if name is None or name in known:
        return name
    folded = [k for k in known if k.lower() == name.lower()]
    return folded[0] if len(folded) == 1 else name


def load_case(case_dir: Path, shared_graph: nx.DiGraph | None, dataset: str) -> Case:
    label_path = case_dir / "label.json"
    label = read_label(label_path) if label_path.exists() else {"root_cause": None, "onset": None, "fault": None}
    graph = read_graph(case_dir / "graph.csv") if (case_dir / "graph.csv").exists() else shared_graph
    metrics, dropped = read_metrics(case_dir / "metrics.csv")
    comps = list(dict.fromkeys(str(c) for c in metrics.columns.get_level_values(0)))
    nodes = [str(n) for n in graph.nodes()] if graph is not None else []
    service_of = group(comps + nodes)
    root = _resolve(label["root_cause"], comps + nodes)
    if root is not None and root not in service_of:
        root = group([root], comps + nodes)[root]  # a component named only in the label
    return Case(
        name=case_dir.name,
        metrics=metrics,
        root_cause=service_of.get(root, root) if root is not None else None,
        onset=label["onset"],
        fault=label["fault"],
        graph=graph,
        service_of=service_of,
        dataset=dataset,
        meta={"dropped_columns": dropped, "label_root_cause": label["root_cause"]},
    )


def load_generic(root: Path) -> list[Case]:
    shared = read_graph(root / "graph.csv") if (root / "graph.csv").exists() else None
    dirs = [d for d in sorted(root.iterdir()) if d.is_dir() and (d / "metrics.csv").exists()]
    if not dirs:
        raise ValueError(f"path: no cases (<case>/metrics.csv) under {root}")
    return [load_case(d, shared, root.name) for d in dirs]
