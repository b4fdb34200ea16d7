"""The case model and the loaders: generic layout, Sock Shop and Nezha conventions, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from causal.case import Case, CaseError
from causal.loaders import load
from causal.loaders.nezha import pod_service
from tests.causal.synthetic import CHAIN, chain_case, write_generic
from tests.conftest import shared_data


def test_case_rejects_unsorted_or_flat_columns() -> None:
    good = chain_case().metrics
    with pytest.raises(CaseError, match="MultiIndex"):
        Case("x", pd.DataFrame({"a": [1.0, 2.0]}, index=[1.0, 2.0]))
    with pytest.raises(CaseError, match="ascending"):
        Case("x", good.iloc[::-1])


def test_case_service_level_graph_and_components() -> None:
    c = chain_case()
    assert set(c.components) == set(CHAIN)
    assert c.step_s == 10.0
    g = c.service_graph()
    assert g is not None and g.has_edge("gateway", "orders")


def test_generic_round_trip(tmp_path: Path) -> None:
    root = write_generic(tmp_path / "ds", [chain_case("stock", name="a"), chain_case("db", seed=1, name="b")])
    cases = load("generic", root)
    assert [c.name for c in cases] == ["a", "b"]
    assert cases[0].root_cause == "stock" and cases[1].root_cause == "db"
    assert cases[0].graph is not None and cases[0].graph.has_edge("stock", "db")
    assert cases[0].onset == pytest.approx(chain_case().onset)
    assert ("stock", "latency_ms") in cases[0].metrics.columns


def test_generic_per_case_graph_overrides_the_shared_one(tmp_path: Path) -> None:
    root = write_generic(tmp_path / "ds", [chain_case(name="a")])
    (root / "a" / "graph.csv").write_text("source,target\ngateway,db\n")
    case = load("generic", root)[0]
    assert case.graph is not None and list(case.graph.edges()) == [("gateway", "db")]


def test_generic_errors_name_the_problem(tmp_path: Path) -> None:
    d = tmp_path / "ds" / "c1"
    d.mkdir(parents=True)
    (d / "metrics.csv").write_text("t,a:cpu\n1,2\n")
    with pytest.raises(CaseError, match="time"):
        load("generic", tmp_path / "ds")
    (d / "metrics.csv").write_text("time,cpu\n1,2\n2,3\n")
    with pytest.raises(CaseError, match="component:metric"):
        load("generic", tmp_path / "ds")
    with pytest.raises(ValueError, match="no cases"):
        load("generic", tmp_path)
    with pytest.raises(ValueError, match="allowed: sockshop, nezha, generic"):
        load("other", tmp_path)
    with pytest.raises(ValueError, match="not a directory"):
        load("generic", tmp_path / "missing")


def test_generic_label_without_onset(tmp_path: Path) -> None:
    root = write_generic(tmp_path / "ds", [chain_case(name="a")], shared_graph=False)
    (root / "a" / "label.json").write_text(json.dumps({"root_cause": "stock"}))
    case = load("generic", root)[0]
    assert case.onset is None and case.fault is None and case.graph is None


def test_pod_names_map_to_services() -> None:
    assert pod_service("cartservice-579f59597d-wc2lz") == "cartservice"
    assert pod_service("ts-auth-service-6b8d7f9c4-abcde") == "ts-auth-service"
    assert pod_service("redis-cart-0") == "redis-cart"
    assert pod_service("frontend") == "frontend"


def test_sockshop_loader_follows_the_benchmark_conventions() -> None:
    cases = load("sockshop", shared_data("rca/sockshop"))
    assert len(cases) == 50
    assert {c.fault for c in cases} == {"cpu", "mem"}
    assert {c.root_cause for c in cases} == {"carts", "catalogue", "orders", "payment", "user"}
    c = next(x for x in cases if x.name == "carts-cpu/1")
    assert c.service("carts-db") == "carts" and "carts-db" in c.components
    assert "carts-db" not in c.services
    t = c.times
    assert np.all(np.diff(t) > 0)
    assert c.onset == t[c.meta["normal_rows"]]  # the first anomalous row
    # orders-mem/5: normal.csv was recorded after anomalous.csv; still used as the baseline
    late = next(x for x in cases if x.name == "orders-mem/5")
    assert late.meta["normal_shift_s"] < 0 and late.times[0] < late.onset


def test_nezha_loader_follows_the_data_readme() -> None:
    cases = load("nezha", shared_data("rca/nezha-ob"))
    assert len(cases) == 56
    code = [c for c in cases if c.meta["code_level"]]
    assert {c.fault for c in code} == {"return", "exception"} and len(code) == 14
    for c in cases:
        assert c.root_cause in c.services
        assert c.graph is not None and c.graph.has_edge("frontend", "checkoutservice")
        rel = c.times - c.onset  # a short window around the injection
        assert rel.min() >= -300 and rel.max() <= 240 and (rel > 0).any() and (rel <= 0).any()
        assert not any(m.startswith("Node") for m in c.metrics.columns.get_level_values(1))
    # adservice's TimeStamp column is off by ~2e8 s on 2022-08-22; rows still line up with the others
    first = next(c for c in cases if c.name.startswith("2022-08-22"))
    assert first.metrics["adservice"].notna().all().all()
    # call-edge latencies are attributed to the callee
    assert any(m.endswith("<-frontend") for m in first.metrics["cartservice"].columns)
