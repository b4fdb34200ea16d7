"""The incident case, independent of any dataset: a metrics table, an optional call graph, onset and label.

`metrics` is indexed by time (epoch seconds, ascending, unique) with a two-level column index
(component, metric). `service_of` maps a component to the service it is scored as (e.g. a database
container to the service that owns it); rankings are deduplicated at that level.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd


class CaseError(ValueError):
    """A case that cannot be analysed (empty table, malformed columns, onset outside the data)."""


@dataclass
class Case:
    name: str
    metrics: pd.DataFrame
    root_cause: str | None = None
    onset: float | None = None
    fault: str | None = None
    graph: nx.DiGraph | None = None  # caller -> callee, over components or services
    service_of: dict[str, str] = field(default_factory=dict)
    dataset: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        m = self.metrics
        if not isinstance(m.columns, pd.MultiIndex) or m.columns.nlevels != 2:
            raise CaseError(f"case {self.name}: metrics columns must be a (component, metric) MultiIndex")
        if m.empty:
            raise CaseError(f"case {self.name}: metrics table is empty")
        if not m.index.is_monotonic_increasing or not m.index.is_unique:
            raise CaseError(f"case {self.name}: metrics index must be ascending, unique epoch seconds")
        m.columns = m.columns.set_names(["component", "metric"])

    @property
    def components(self) -> list[str]:
        return list(dict.fromkeys(self.metrics.columns.get_level_values(0)))

    @property
    def services(self) -> list[str]:
        return list(dict.fromkeys(self.service(c) for c in self.components))

    @property
    def all_services(self) -> list[str]:
        """Every service a ranking may name: those with metrics, then call-graph nodes with none (a component
        without metrics can still be the root cause)."""
        out = dict.fromkeys(self.services)
        if self.graph is not None:
            for n in self.graph.nodes():
                out.setdefault(self.service(str(n)))
        return list(out)

    @property
    def times(self) -> np.ndarray:
        return self.metrics.index.to_numpy(dtype=float)

    @property
    def step_s(self) -> float:
        """The typical sampling interval in seconds."""
        t = self.times
        return float(np.median(np.diff(t))) if len(t) > 1 else 1.0

    def service(self, component: str) -> str:
        return self.service_of.get(component, component)

    def with_onset(self, onset: float | None) -> Case:
        return replace(self, onset=onset)

    def service_graph(self) -> nx.DiGraph | None:
        """The call graph mapped to service level (self-loops dropped), or None when the case has none."""
        if self.graph is None:
            return None
        g = nx.DiGraph()
        g.add_nodes_from(self.services)
        for a, b in self.graph.edges():
            sa, sb = self.service(a), self.service(b)
            if sa != sb:
                g.add_edge(sa, sb)
        return g


def frame(columns: dict[tuple[str, str], np.ndarray | pd.Series], times: np.ndarray) -> pd.DataFrame:
    """Build a metrics table from {(component, metric): values} aligned on `times`."""
    df = pd.DataFrame({k: np.asarray(v, dtype=float) for k, v in columns.items()}, index=np.asarray(times, float))
    df.columns = pd.MultiIndex.from_tuples(list(columns), names=["component", "metric"])
    df.index.name = "time"
    return df.sort_index()
