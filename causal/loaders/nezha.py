"""Cases from a directory in the Nezha layout (e.g. Nezha's Online Boutique or Train Ticket data).

Layout: `<day>/metric/<pod>_metric.csv` (one row per minute), `<day>/metric/dependency.csv`
(`Source,Target,Weight`, service call edges plus pod-to-node edges) and `<day>/<day>-fault_list.json`
(`{hour: [{inject_time, inject_timestamp, inject_pod, inject_type}]}`).

Conventions: pods are scored as their service (the ReplicaSet/pod hash suffix is dropped); the row time
comes from the UTC `Time` string because some `TimeStamp` columns are off by ~2e8 s; node-level columns
(`Node*`) describe the host rather than the pod and are left out; faults were injected every 8-9
minutes, so each case keeps a short window (5 minutes before the injection, 4 after).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

from causal.case import Case

BEFORE_S = 300
AFTER_S = 240
CODE_LEVEL = frozenset({"return", "exception"})
_SKIP = {"Time", "TimeStamp", "PodName"}
_POD_SUFFIX = re.compile(r"-[0-9a-f]{6,10}-[0-9a-z]{5}$|-[0-9a-z]{5}$|-\d+$")


def pod_service(pod: str) -> str:
    """`cartservice-579f59597d-wc2lz` -> `cartservice`."""
    return _POD_SUFFIX.sub("", pod)


def _read_pod(path: Path) -> tuple[str, pd.DataFrame]:
    df = pd.read_csv(path)
    stamp = df["Time"].astype(str).str.extract(r"^(\S+ \S+)")[0]
    t = pd.to_datetime(stamp, utc=True, format="ISO8601").astype("int64").to_numpy() / 1e9
    cols = [c for c in df.columns if c not in _SKIP and not c.startswith("Node")]
    values = df[cols].apply(pd.to_numeric, errors="coerce")
    values.index = t
    pod = path.name.removesuffix("_metric.csv")
    return pod, values


def _day_table(metric_dir: Path) -> tuple[pd.DataFrame, dict[str, str]]:
    """All pods of one day on a shared per-minute time index; returns (table, component -> service)."""
    parts, minute_times = [], []
    minute_index: set[float] = set()
    service_of: dict[str, str] = {}
    for f in sorted(metric_dir.glob("*_metric.csv")):
        pod, values = _read_pod(f)
        comp = pod_service(pod)
        if comp in service_of:  # a second pod of the same service: keep the pods apart
            comp = pod
        service_of[comp] = pod_service(pod)
        minute = np.floor(values.index.to_numpy() / 60.0) * 60.0
        minute_times.append(pd.Series(values.index.to_numpy(), index=minute))
        values.index = minute
        values = values[~values.index.duplicated(keep="last")]
        values.columns = pd.MultiIndex.from_tuples([(comp, c) for c in values.columns])
        parts.append(values)
        minute_index.update(values.index)
    if not parts:
        raise ValueError(f"path: no *_metric.csv files in {metric_dir}")
    by_service: dict[str, list[str]] = {}
    for comp, svc in service_of.items():
        by_service.setdefault(svc, []).append(comp)
    parts += _read_edges(metric_dir / "source_50.csv", "CallerSide", by_service)
    parts += _read_edges(metric_dir / "destination_50.csv", "CalleeSide", by_service)
    table = pd.concat(parts, axis=1).sort_index()
    table.columns = pd.MultiIndex.from_tuples(list(table.columns))
    table = table[table.index.isin(minute_index)]
    # index each minute by the median actual sampling time of its rows
    times = pd.concat(minute_times).groupby(level=0).median()
    table.index = times.reindex(table.index).to_numpy()
    table.index.name = "time"
    table.columns = table.columns.set_names(["component", "metric"])
    return table, service_of


def _read_edges(path: Path, side: str, components: dict[str, list[str]]) -> list[pd.DataFrame]:
    """Per-call-edge latency files (`caller_callee` columns), attributed to the callee component."""
    if not path.exists():
        return []
    df = pd.read_csv(path)
    stamp = df.iloc[:, 0].astype(str).str.extract(r"^(\S+ \S+)")[0]
    t = pd.to_datetime(stamp, utc=True, format="ISO8601").astype("int64").to_numpy() / 1e9
    minute = np.floor(t / 60.0) * 60.0
    parts = []
    for col in df.columns[2:]:
        caller, _, callee = str(col).partition("_")
        for comp in components.get(callee, []):
            s = pd.to_numeric(df[col], errors="coerce")
            s.index = minute
            s = s[~s.index.duplicated(keep="last")]
            parts.append(s.to_frame((comp, f"{side}LatencyP50(s)<-{caller}")))
    return parts


def _graph(metric_dir: Path, components: set[str], service_of: dict[str, str]) -> nx.DiGraph | None:
    path = metric_dir / "dependency.csv"
    if not path.exists():
        return None
    deps = pd.read_csv(path)
    by_service: dict[str, list[str]] = {}
    for c in components:
        by_service.setdefault(service_of.get(c, c), []).append(c)
    g = nx.DiGraph()
    g.add_nodes_from(components)
    for a, b in zip(deps.iloc[:, 0].astype(str), deps.iloc[:, 1].astype(str), strict=True):
        for ca in by_service.get(pod_service(a), []):
            for cb in by_service.get(pod_service(b), []):
                if ca != cb:
                    g.add_edge(ca, cb)
    return g


def load_day(day_dir: Path, dataset: str = "nezha") -> list[Case]:
    metric_dir = day_dir / "metric"
    faults_file = next(iter(sorted(day_dir.glob("*fault_list.json"))), None)
    if faults_file is None or not metric_dir.is_dir():
        return []
    table, service_of = _day_table(metric_dir)
    graph = _graph(metric_dir, set(service_of), service_of)
    faults = [f for hour in json.loads(faults_file.read_text()).values() for f in hour]
    cases = []
    for f in sorted(faults, key=lambda x: float(x["inject_timestamp"])):
        onset = float(pd.Timestamp(f["inject_time"], tz="UTC").timestamp())
        window = table[(table.index >= onset - BEFORE_S) & (table.index <= onset + AFTER_S)]
        if len(window) < 4 or not (window.index > onset).any() or not (window.index <= onset).any():
            continue
        root = pod_service(str(f["inject_pod"]))
        cases.append(Case(
            name=f"{day_dir.name}/{f['inject_time'][11:19]}-{root}-{f['inject_type']}",
            metrics=window.copy(),
            root_cause=root,
            onset=onset,
            fault=str(f["inject_type"]),
            graph=graph,
            service_of=dict(service_of),
            dataset=dataset,
            meta={"inject_pod": f["inject_pod"], "code_level": f["inject_type"] in CODE_LEVEL},
        ))
    return cases


def load_nezha(root: Path) -> list[Case]:
    days = [d for d in sorted(root.iterdir()) if d.is_dir() and (d / "metric").is_dir()]
    if (root / "metric").is_dir():
        days = [root]
    cases = [c for d in days for c in load_day(d, root.name)]
    if not cases:
        raise ValueError(f"path: no Nezha-layout days (<day>/metric/, <day>/*fault_list.json) under {root}")
    return cases
