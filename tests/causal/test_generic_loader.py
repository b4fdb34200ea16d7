"""The generic layout read tolerantly: time formats, `::` in names, one service as several components, constant
metrics, coarse sampling, no graph, reversed edges, components without metrics, and precise errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from causal.aggregate import MethodConfig
from causal.case import CaseError
from causal.components import group
from causal.graph import component_graph, orient
from causal.loaders import load
from causal.loaders.generic import split_column
from causal.pipeline import analyse

T0 = 1_700_000_000


def _write(root: Path, name: str, columns: dict[str, np.ndarray], times: list | np.ndarray,
           label: dict | None = None, graph: str | None = None, time_col: str = "time") -> Path:
    d = root / name
    d.mkdir(parents=True, exist_ok=True)
    df = pd.DataFrame({time_col: times, **columns})
    df.to_csv(d / "metrics.csv", index=False)
    if label is not None:
        (d / "label.json").write_text(json.dumps(label))
    if graph is not None:
        (d / "graph.csv").write_text(graph)
    return d


def _shop(n: int = 60, onset_row: int = 40, step: float = 60.0, root: str = "orders", seed: int = 0,
          ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """gateway -> orders -> orders-db; latency flows up from the root; the root also burns CPU."""
    rng = np.random.default_rng(seed)
    t = T0 + step * np.arange(n)
    hot = np.arange(n) >= onset_row
    own = {"orders-db": 5.0, "orders": 20.0, "gateway": 30.0}
    lat: dict[str, np.ndarray] = {}
    cols: dict[str, np.ndarray] = {}
    for c, callee in (("orders-db", None), ("orders", "orders-db"), ("gateway", "orders")):
        x = own[c] + rng.normal(0, 1.0, n) + (lat[callee] if callee else 0.0)
        if c == root:
            x = x + np.where(hot, 150.0, 0.0)
        lat[c] = x
        cols[f"{c}:latency_ms"] = x
        cols[f"{c}:cpu"] = 30 + rng.normal(0, 1.5, n) + np.where(hot & (c == root), 50.0, 0.0)
    return t, cols


def test_times_in_milliseconds_and_iso_strings_give_epoch_seconds(tmp_path: Path) -> None:
    t, cols = _shop()
    label = {"root_cause": "orders", "onset": int(t[40] * 1000)}
    _write(tmp_path / "ds", "ms", cols, (t * 1000).astype(np.int64), label)
    iso = pd.to_datetime(t, unit="s", utc=True).strftime("%Y-%m-%dT%H:%M:%SZ")
    _write(tmp_path / "ds", "iso", cols, list(iso), {"root_cause": "orders", "onset": iso[40]}, time_col="timestamp")
    a, b = load("generic", tmp_path / "ds")
    for case in (a, b):
        assert case.metrics.index[0] == pytest.approx(t[0]) and case.onset == pytest.approx(t[40])
        assert case.step_s == pytest.approx(60.0)


def test_double_colons_stay_in_the_component_name() -> None:
    assert split_column("checkout_AWS::Lambda:Errors") == ("checkout_AWS::Lambda", "Errors")
    assert split_column("svc:cpu") == ("svc", "cpu")
    assert split_column("a::b") is None and split_column("cpu") is None and split_column(":x") is None


def test_one_service_as_several_components() -> None:
    comps = ["checkout", "checkout_AWS::Lambda", "orders", "orders-db", "orders-db_replica", "ordersummary"]
    assert group(comps) == {"checkout": "checkout", "checkout_AWS::Lambda": "checkout", "orders": "orders",
                            "orders-db": "orders", "orders-db_replica": "orders", "ordersummary": "ordersummary"}
    # a name only the call graph knows can own components too
    assert group(["pay_AWS::Lambda", "pay_AWS::DynamoDB"], ["pay"]) == {"pay_AWS::Lambda": "pay",
                                                                        "pay_AWS::DynamoDB": "pay"}


def test_label_naming_a_component_is_scored_as_its_service(tmp_path: Path) -> None:
    t, cols = _shop(root="orders-db")
    cols["orders-db_AWS::RDS:Errors"] = np.where(np.arange(len(t)) >= 40, 3.0, 0.0)
    _write(tmp_path / "ds", "c", cols, t, {"root_causes": ["orders-db_AWS::RDS"], "inject_time": float(t[40])})
    case = load("generic", tmp_path / "ds")[0]
    assert case.root_cause == "orders" and case.service("orders-db_AWS::RDS") == "orders"
    assert case.meta["label_root_cause"] == "orders-db_AWS::RDS"
    assert analyse(case).services()[0] == "orders"


def test_constant_metric_that_moves_is_scored_finitely_and_found(tmp_path: Path) -> None:
    t, cols = _shop(root="orders")
    n = len(t)
    cols["orders:availability"] = np.where(np.arange(n) >= 40, 97.0, 100.0)  # 100% in normal operation
    cols["gateway:errors"] = np.zeros(n)  # constant throughout: dropped, not an error
    _write(tmp_path / "ds", "c", cols, t, {"root_cause": "orders", "onset": float(t[40])})
    case = load("generic", tmp_path / "ds")[0]
    result = analyse(case)
    assert result.services()[0] == "orders"
    assert all(np.isfinite(c.score) for c in result.ranking)


def test_five_minute_metrics_with_five_rows_after_the_onset(tmp_path: Path) -> None:
    for seed, root in enumerate(("orders", "orders-db", "gateway")):
        t, cols = _shop(n=17, onset_row=12, step=300.0, root=root, seed=seed)
        _write(tmp_path / "ds", f"c{seed}", cols, t, {"root_cause": root, "onset": float(t[12])},
               graph="source,target\ngateway,orders\norders,orders-db\n")
    for case in load("generic", tmp_path / "ds"):
        assert case.step_s == 300.0
        for result in (analyse(case), analyse(case, detect=True)):
            assert result.services()[0] == case.root_cause, case.name


def test_reversed_graph_is_turned_round(tmp_path: Path) -> None:
    g = pd.DataFrame({"caller": ["gw", "gw", "gw", "a"], "callee": ["a", "b", "c", "d"]})
    forward = load_graph_edges(g)
    backward, flipped = orient(forward.reverse(copy=True))
    assert flipped and set(backward.edges()) == set(forward.edges())
    same, kept = orient(forward)
    assert not kept and same is forward
    t, cols = _shop(root="orders-db")
    label = {"root_cause": "orders-db", "onset": float(t[40])}
    _write(tmp_path / "fw", "c", cols, t, label, graph="source,target\ngateway,orders\norders,orders-db\n")
    _write(tmp_path / "bw", "c", cols, t, label, graph="FROM,TO\norders-db,orders\norders,gateway\n")
    a, b = load("generic", tmp_path / "fw")[0], load("generic", tmp_path / "bw")[0]
    assert analyse(a).services() == analyse(b).services()


def load_graph_edges(df: pd.DataFrame):  # noqa: ANN201 - a tiny helper for the test above
    import networkx as nx

    return nx.DiGraph(list(zip(df["caller"], df["callee"], strict=True)))


def test_component_without_metrics_can_be_ranked_from_its_callers(tmp_path: Path) -> None:
    """The cache nobody measures slows both of its callers: it is named among the first candidates."""
    rng = np.random.default_rng(3)
    n, on = 60, 40
    t = T0 + 60.0 * np.arange(n)
    hot = np.arange(n) >= on
    cols = {
        "web:latency_ms": 50 + rng.normal(0, 1, n) + np.where(hot, 80.0, 0.0),
        "api:latency_ms": 30 + rng.normal(0, 1, n) + np.where(hot, 80.0, 0.0),
        "search:latency_ms": 30 + rng.normal(0, 1, n) + np.where(hot, 80.0, 0.0),
        "mail:latency_ms": 10 + rng.normal(0, 1, n),
    }
    _write(tmp_path / "ds", "c", cols, t, {"root_cause": "cache", "onset": float(t[on])},
           graph="source,target\nweb,api\nweb,search\napi,cache\nsearch,cache\nweb,mail\n")
    case = load("generic", tmp_path / "ds")[0]
    assert "cache" not in case.services and "cache" in case.all_services and case.root_cause == "cache"
    g = component_graph(case)
    assert g is not None and g.has_edge("api", "cache") and g.has_edge("api", "search") is False
    ranked = analyse(case, config=MethodConfig(graph="dep", infer=0.9)).services()
    assert "cache" in ranked[:3] and ranked.index("cache") < ranked.index("mail")
    assert "cache" not in analyse(case, config=MethodConfig(graph="dep", infer=0.0)).services()
    assert "cache" not in analyse(case, use_graph=False).services()


def test_no_graph_and_no_label_still_load(tmp_path: Path) -> None:
    t, cols = _shop()
    _write(tmp_path / "ds", "c", cols, t)
    case = load("generic", tmp_path / "ds")[0]
    assert case.graph is None and case.root_cause is None and case.onset is None
    assert analyse(case, detect=True).services()[0] == "orders"


def test_messy_cells_and_repeated_rows(tmp_path: Path) -> None:
    t, cols = _shop()
    cols["orders:notes"] = np.array(["n/a"] * len(t))  # no number at all: dropped and named
    cols["gateway:cpu"] = cols["gateway:cpu"].astype(object)
    cols["gateway:cpu"][5] = "error"  # one bad cell: a gap
    times = np.concatenate([t[::-1][:3], t])  # unsorted, three repeated rows
    more = {k: np.concatenate([v[::-1][:3], v]) for k, v in cols.items()}
    _write(tmp_path / "ds", "c", more, times, {"root_cause": "orders", "onset": float(t[40])})
    case = load("generic", tmp_path / "ds")[0]
    assert case.meta["dropped_columns"] == ["orders:notes"]
    assert case.metrics.index.is_monotonic_increasing and len(case.metrics) == len(t)
    assert np.isnan(case.metrics[("gateway", "cpu")].iloc[5])


@pytest.mark.parametrize(("files", "message"), [
    ({"metrics.csv": "when,a:cpu\n1,2\n"}, "time column named one of time, timestamp, ts, datetime"),
    ({"metrics.csv": "time,cpu,a:mem\n1,2,3\n"}, "must be named `component:metric`; bad: ['cpu']"),
    ({"metrics.csv": "time,a:cpu\nyesterday,2\n"}, "unreadable: ['yesterday']"),
    ({"metrics.csv": "time,a:cpu\n"}, "no rows"),
    ({"metrics.csv": "time,a:cpu\n1,x\n2,y\n"}, "no metric column holds a number"),
    ({"metrics.csv": "time,a:cpu\n1,2\n", "label.json": "{root_cause: a}"}, "label.json: not valid JSON"),
    ({"metrics.csv": "time,a:cpu\n1,2\n", "label.json": "[1]"}, "expected an object with root_cause"),
    ({"metrics.csv": "time,a:cpu\n1,2\n", "label.json": '{"root_cause": 3}'}, "root_cause must be a component"),
    ({"metrics.csv": "time,a:cpu\n1,2\n", "label.json": '{"root_cause": "a", "onset": "soon"}'}, "onset"),
    ({"metrics.csv": "time,a:cpu\n1,2\n", "graph.csv": "a,b\nx,y\n"}, "expected columns source,target or caller"),
])
def test_errors_name_the_file_and_the_field(files: dict[str, str], message: str, tmp_path: Path) -> None:
    d = tmp_path / "ds" / "case1"
    d.mkdir(parents=True)
    for name, text in files.items():
        (d / name).write_text(text)
    with pytest.raises(CaseError) as err:
        load("generic", tmp_path / "ds")
    assert message in str(err.value) and "case1" in str(err.value)
