"""The method's parts on synthetic incidents: scores, change points, PC with the fault node, ranking, paths."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from causal import anomaly, changepoint, discovery, graph
from causal.aggregate import MethodConfig
from causal.case import Case, CaseError, frame
from causal.citest import FastPearsonr
from causal.pipeline import analyse
from tests.causal.synthetic import CHAIN, chain_case


def test_robust_score_finds_the_shifted_metric_and_ignores_small_drifts() -> None:
    rng = np.random.default_rng(0)
    n, on = 100, 60
    t = np.arange(n, dtype=float)
    step = 10 + rng.normal(0, 1, n) + np.where(t >= on, 8, 0)
    # a nearly constant level that drifts by 2%: tiny IQR, but below the relative floor
    flat = 1e9 * (1 + 0.02 * (t >= on)) + rng.normal(0, 10, n)
    table = frame({("a", "lat"): step, ("b", "mem"): flat}, t)
    s = anomaly.score(anomaly.prepare(table), on)
    by = {(m.component, m.metric): m for m in s.metrics}
    assert by[("a", "lat")].score > 5 and by[("a", "lat")].direction == 1
    assert by[("b", "mem")].score < 1
    assert anomaly.component_scores(s)["a"] == by[("a", "lat")].score


def test_prepare_fills_gaps_and_drops_flat_columns() -> None:
    table = frame({("a", "x"): [1.0, np.nan, 3.0, 4.0], ("a", "flat"): [2.0] * 4, ("b", "gone"): [np.nan] * 4},
                  np.arange(4.0))
    out = anomaly.prepare(table)
    assert list(out.columns) == [("a", "x")] and out.notna().all().all()


def test_change_point_found_and_none_in_noise() -> None:
    rng = np.random.default_rng(1)
    n = 200
    t = 1000.0 + np.arange(n)
    noise = frame({("a", f"m{i}"): rng.normal(50, 2, n) for i in range(5)}, t)
    quiet = changepoint.detect(noise)
    assert quiet.onset is None or quiet.strength < 3
    shifted = noise.copy()
    shifted[("a", "m0")] = shifted[("a", "m0")] + np.where(np.arange(n) >= 130, 30.0, 0.0)
    cp = changepoint.detect(shifted)
    assert cp.onset == t[130] and ("a", "m0") in cp.voters and cp.strength > 10 * max(quiet.strength, 1)


def test_binary_segmentation_reports_both_changes() -> None:
    rng = np.random.default_rng(2)
    n = 300
    t = np.arange(float(n))
    x = rng.normal(100, 2, n) + np.where(t >= 100, 40, 0)  # e.g. a load shift
    y = rng.normal(10, 0.5, n) + np.where(t >= 220, 30, 0)  # then the fault
    found = changepoint.candidates(frame({("lb", "rps"): x, ("db", "lat"): y}, t))
    onsets = sorted(c.onset for c in found if c.onset is not None)
    assert 100.0 in onsets and 220.0 in onsets


def test_detect_picks_the_change_after_which_the_incident_is_clearest() -> None:
    case = chain_case("stock", n=200, onset_row=150)
    t = case.metrics.index.to_numpy()
    # an earlier, global but modest load change on every component's CPU
    for c in CHAIN:
        case.metrics[(c, "cpu")] += np.where(t >= t[60], 4.0, 0.0)
    result = analyse(case, detect=True)
    assert result.onset == case.onset and result.services()[0] == "stock"


def test_fast_pearson_matches_pgmpy() -> None:
    from pgmpy.ci_tests import Pearsonr

    rng = np.random.default_rng(3)
    x = rng.standard_normal((200, 4))
    x[:, 1] += x[:, 0]
    x[:, 2] += 0.5 * x[:, 1]
    df = pd.DataFrame(x, columns=list("abcd"))
    ref, fast = Pearsonr(df), FastPearsonr(df)
    for z in ([], ["b"], ["b", "d"]):
        ref.run_test("a", "c", z)
        fast.run_test("a", "c", z)
        assert fast.statistic_ == pytest.approx(ref.statistic_, abs=1e-9)
        assert fast.p_value_ == pytest.approx(ref.p_value_, rel=1e-6, abs=1e-12)


@pytest.mark.parametrize("root", CHAIN)
def test_fault_node_is_adjacent_to_the_root_only(root: str) -> None:
    case = chain_case(root, seed=4)
    table = anomaly.prepare(case.metrics)
    s = anomaly.score(table, case.onset)  # type: ignore[arg-type]
    comp = anomaly.component_scores(s)
    order = sorted(comp, key=lambda c: -comp[c])
    d = discovery.discover(s, discovery.select(s, order), graph.component_graph(case))
    assert d.ran and d.error is None
    assert d.component_roots() == {root}
    # effects point away from the fault node
    assert all(u == (discovery.FAULT, discovery.FAULT) for u, _ in d.effects.in_edges(next(iter(d.fault_children))))


def test_forbidden_adjacencies_follow_the_service_graph() -> None:
    case = chain_case("db", seed=5)
    s = anomaly.score(anomaly.prepare(case.metrics), case.onset)  # type: ignore[arg-type]
    comp = anomaly.component_scores(s)
    d = discovery.discover(s, discovery.select(s, sorted(comp, key=lambda c: -comp[c])), graph.component_graph(case))
    for u, v in d.effects.edges():
        if discovery.FAULT in (u[0], v[0]):
            continue
        assert graph.adjacent(graph.component_graph(case), u[0], v[0]), (u, v)


def test_ranking_prefers_the_component_whose_dependencies_are_healthy() -> None:
    case = chain_case("stock", seed=6)
    ranked = analyse(case, config=MethodConfig(graph="dep", causal=False)).ranking
    assert ranked[0].service == "stock"
    callers = {c.service: c for c in ranked}
    assert callers["orders"].factors["dependencies"] < 1.0  # orders calls the anomalous stock
    assert ranked[0].path == ["gateway", "orders", "stock"]  # symptom (entry) -> cause along calls


@pytest.mark.parametrize("root", CHAIN)
@pytest.mark.parametrize("with_graph", [True, False])
def test_pipeline_ranks_the_root_first(root: str, with_graph: bool) -> None:
    case = chain_case(root, seed=7, graph=with_graph)
    for result in (analyse(case), analyse(case, detect=True)):
        assert result.services()[0] == root
        assert result.anomalous
        assert sorted(result.services()) == sorted(CHAIN)
        top = result.ranking[0]
        assert top.path[-1] == root and top.evidence and top.evidence[0].score >= top.evidence[-1].score


def test_symptom_is_the_entry_most_anomalous_or_the_one_asked_for() -> None:
    case = chain_case("db", seed=8)
    assert analyse(case).symptom == "gateway"
    asked = analyse(case, symptom="orders")
    assert asked.symptom == "orders" and asked.ranking[0].path == ["orders", "stock", "db"]
    by_metric = analyse(case, symptom_metric="cpu")  # only the root's CPU moved
    assert by_metric.symptom == "db"


def test_components_of_one_service_are_merged() -> None:
    case = chain_case("db", seed=9)
    case.service_of = {"db": "stock"}  # the database belongs to the stock service
    result = analyse(case)
    assert result.services()[0] == "stock" and "db" not in result.services()


def test_nothing_to_analyse_is_an_error() -> None:
    t = np.arange(10.0)
    flat = Case("flat", frame({("a", "x"): np.ones(10)}, t), onset=5.0)
    with pytest.raises(CaseError, match="no metric varies"):
        analyse(flat)


def test_graph_given_over_services_is_expanded_to_components() -> None:
    case = chain_case("db", seed=10)
    case.service_of = {"db": "stock-db-svc"}
    case.graph = nx.DiGraph([("gateway", "orders"), ("orders", "stock"), ("stock", "stock-db-svc")])
    g = graph.component_graph(case)
    assert g is not None and g.has_edge("stock", "db")
