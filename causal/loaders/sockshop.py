"""Sock Shop cases in the RCD layout: `{service}-{fault}/{n}/{normal,anomalous}.csv`.

Columns are `time` then `{container}_{metric}`. The fault is active from the first row of `anomalous.csv`,
which is the onset. The normal recording was taken hours apart (once, after the anomalous one), so it
is re-timed to end one step before the anomalous recording starts and the two are joined. Containers
named `x-db` are scored as service `x`, the benchmark's convention.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from causal.case import Case, CaseError

_CASE_DIR = re.compile(r"^(?P<service>[a-z0-9-]+)-(?P<fault>[a-z]+)$")


def _columns(df: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in df.columns if c != "time"]
    out = df[cols].astype(float)
    out.columns = pd.MultiIndex.from_tuples([tuple(c.split("_", 1)) for c in cols], names=["component", "metric"])
    return out


def service_of(component: str) -> str:
    return component[: -len("-db")] if component.endswith("-db") else component


def load_case(case_dir: Path, service: str, fault: str) -> Case:
    normal = pd.read_csv(case_dir / "normal.csv")
    anomalous = pd.read_csv(case_dir / "anomalous.csv")
    if "time" not in normal.columns or "time" not in anomalous.columns:
        raise CaseError(f"{case_dir}: expected a `time` column in normal.csv and anomalous.csv")
    anomalous = anomalous.sort_values("time")
    normal = normal.sort_values("time")
    step = float(np.median(np.diff(anomalous["time"].to_numpy()))) if len(anomalous) > 1 else 1.0
    onset = float(anomalous["time"].iloc[0])
    shift = onset - step - float(normal["time"].iloc[-1])
    a, n = _columns(anomalous), _columns(normal)
    n = n.reindex(columns=a.columns)
    n.index = normal["time"].to_numpy(dtype=float) + shift
    a.index = anomalous["time"].to_numpy(dtype=float)
    metrics = pd.concat([n, a])
    metrics = metrics[~metrics.index.duplicated(keep="last")].sort_index()
    metrics.index.name = "time"
    comps = list(dict.fromkeys(metrics.columns.get_level_values(0)))
    return Case(
        name=f"{case_dir.parent.name}/{case_dir.name}",
        metrics=metrics,
        root_cause=service,
        onset=onset,
        fault=fault,
        graph=None,
        service_of={c: service_of(c) for c in comps},
        dataset="sockshop",
        meta={"normal_rows": len(n), "anomalous_rows": len(a), "normal_shift_s": shift},
    )


def load_sockshop(root: Path) -> list[Case]:
    cases = []
    for d in sorted(root.iterdir()):
        m = _CASE_DIR.match(d.name)
        if not d.is_dir() or not m:
            continue
        for sub in sorted((x for x in d.iterdir() if x.is_dir()), key=lambda x: (len(x.name), x.name)):
            if (sub / "anomalous.csv").exists() and (sub / "normal.csv").exists():
                cases.append(load_case(sub, m["service"], m["fault"]))
    if not cases:
        raise ValueError(f"path: no Sock Shop cases ({{service}}-{{fault}}/N/anomalous.csv) under {root}")
    return cases
