"""The simple scores, their rank aggregation, the graph prior and the confidence features."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from causal import scores
from causal.aggregate import MethodConfig, fuse, values
from causal.case import frame
from causal.confidence import THRESHOLD, calibrated, features


def _table(n: int = 80, on: int = 60, seed: int = 0) -> tuple[pd.DataFrame, float]:
    rng = np.random.default_rng(seed)
    t = np.arange(float(n))
    hot = t >= on
    cols = {
        ("a", "lat"): 10 + rng.normal(0, 1, n) + np.where(hot, 8.0, 0.0),  # sustained shift
        ("b", "lat"): 10 + rng.normal(0, 1, n) + np.where(t == on + 5, 12.0, 0.0),  # one spike
        ("c", "avail"): np.where(hot, 99.0, 100.0),  # constant in normal operation, then moves
        ("d", "lat"): 10 + rng.normal(0, 1, n),  # nothing
    }
    return frame(cols, t), float(on)


def test_each_score_sees_what_it_is_for() -> None:
    table, on = _table()
    st = scores.score_table(table, on)
    s = st.per_metric
    assert st.split == 60
    assert s.loc[("a", "lat"), "sustained"] > 5 > s.loc[("b", "lat"), "sustained"]  # a spike is not sustained
    assert s.loc[("b", "lat"), "baro"] > 5 and s.loc[("b", "lat"), "nsigma"] > 5  # but it is a maximum
    assert s.loc[("a", "lat"), "shift"] > 3 * s.loc[("b", "lat"), "shift"]
    assert np.isfinite(s.to_numpy()).all()
    # the constant metric: scaled by its whole-window spread, a moderate finite score
    assert 1 < s.loc[("c", "avail"), "nsigma"] < 10
    assert s.loc[("d", "lat")].max() < s.loc[("a", "lat")].min()


def test_a_relative_floor_mutes_tiny_drifts_of_big_levels() -> None:
    rng = np.random.default_rng(1)
    t = np.arange(100.0)
    table = frame({("m", "mem"): 1e9 * (1 + 0.01 * (t >= 60)) + rng.normal(0, 10, 100)}, t)
    raw = scores.score_table(table, 60.0, 0.0).per_metric.loc[("m", "mem"), "baro"]
    floored = scores.score_table(table, 60.0, 0.05).per_metric.loc[("m", "mem"), "baro"]
    assert raw > 1000 and floored < 1


def test_few_rows_before_the_onset_still_score() -> None:
    table, _ = _table(n=12, on=2)
    st = scores.score_table(table, 2.0)
    assert st.split == 3 and np.isfinite(st.per_metric.to_numpy()).all()  # at least three baseline rows


def test_fusion_is_rank_based_and_ties_follow_magnitude() -> None:
    comp = pd.DataFrame({"nsigma": [100.0, 5.0, 1.0], "baro": [3.0, 4.0, 1.0]}, index=["x", "y", "z"])
    cfg = MethodConfig(scores=("nsigma", "baro"), aggregation="rrf", rrf_k=1.0)
    f = fuse(comp, cfg)
    assert f["x"] == pytest.approx(f["y"], abs=1e-6) and f["x"] > f["y"]  # tied ranks, x larger overall
    assert f["z"] < f["y"]
    # a hundredfold larger score does not outvote the other score: only the ranks count
    comp2 = comp.assign(nsigma=[1e9, 5.0, 1.0])
    assert fuse(comp2, cfg)["x"] == pytest.approx(f["x"], abs=1e-6)
    mean = fuse(comp, MethodConfig(scores=("nsigma", "baro"), aggregation="mean_rank"))
    assert mean.idxmin() == "z" and 0 < mean.min() < mean.max() <= 1
    with pytest.raises(ValueError, match="allowed: rrf, mean_rank"):
        fuse(comp, MethodConfig(scores=("nsigma",), aggregation="vote"))


def test_graph_prior_and_inferred_components() -> None:
    agg = pd.Series({"caller": 0.9, "callee": 1.0, "other": 0.2})
    g = nx.DiGraph([("caller", "callee"), ("other", "store")])
    val, fac = values(agg, g, MethodConfig(graph="dep", infer=0.5), explained=set())
    assert val["caller"] == pytest.approx(0.81) and fac["caller"]["dependencies"] == pytest.approx(0.9)
    assert val["callee"] == 1.0 and val["store"] == pytest.approx(0.1)
    none, _ = values(agg, g, MethodConfig(graph="none", infer=0.0), explained=set())
    assert none == {"caller": 0.9, "callee": 1.0, "other": 0.2}
    pc, _ = values(agg, None, MethodConfig(graph="none", causal=True, explained=0.5, infer=0.0), explained={"callee"})
    assert pc["callee"] == 0.5


def test_confidence_features_and_calibration() -> None:
    names = ["a", "b-db", "c"]
    m = np.array([[9.0, 2.0], [1.0, 3.0], [0.5, 0.5]])  # components x scores
    svc = {"a": "a", "b-db": "b", "c": "c"}
    f = features(names, m, "a", svc)
    assert f["agree"] == 0.5  # score 1 puts a first, score 2 puts b first
    assert f["gap"] == pytest.approx(np.mean([np.log(10) - np.log(2), np.log(3) - np.log(4)]))
    assert f["strength"] == pytest.approx(np.mean([np.log(10), np.log(3)]))
    assert features(names, m, None, svc) == {"agree": 0.0, "gap": 0.0, "strength": 0.0}
    inferred = features(names, m, "store", svc)  # a graph-only service has no scores of its own
    assert inferred["agree"] == 0.0 and inferred["gap"] < 0
    coef = {"intercept": -3.0, "agree": 3.0, "gap": 1.0, "strength": 0.5}
    assert calibrated({"agree": 1.0, "gap": 2.0, "strength": 2.0}, coef) > THRESHOLD > calibrated(
        {"agree": 0.0, "gap": 0.1, "strength": 1.0}, coef)


def test_downstream_tie_breaker_blames_a_similarly_anomalous_callee() -> None:
    g = nx.DiGraph([("gw", "api"), ("api", "db"), ("gw", "mail")])
    agg = {"gw": 0.5, "api": 0.33, "db": 0.25, "mail": 0.2}
    cfg = MethodConfig(graph="down", down_tol=0.2, infer=0.0)
    close = {"gw": 3.0, "api": 2.9, "db": 2.6, "mail": 0.5}
    val, fac = values(agg, g, cfg, set(), close)
    assert sorted(val, key=lambda c: -val[c])[:3] == ["db", "api", "gw"]  # the chain resolves to its end
    assert fac["gw"]["downstream"] == 1.0 and "downstream" not in fac["db"]
    far = {"gw": 3.0, "api": 1.5, "db": 1.4, "mail": 0.5}  # the callees moved much less: the caller stays first
    val2, _ = values(agg, g, cfg, set(), far)
    assert max(val2, key=lambda c: val2[c]) == "gw"
    weak = {"gw": 1.0, "api": 1.0, "db": 1.0, "mail": 0.5}  # nothing anomalous enough to take the blame
    val3, _ = values(agg, g, cfg, set(), weak)
    assert max(val3, key=lambda c: val3[c]) == "gw"


def test_zero_scale_spread_or_level() -> None:
    """A metric constant in normal operation: the spread keeps its score moderate, the level lets a move of
    many times the level dominate while a move of a fraction of it stays small."""
    t = np.arange(40.0)
    hot = t >= 30
    table = frame({("svc", "errors"): np.where(hot, 0.4, 0.0005), ("svc", "avail"): np.where(hot, 99.9, 100.0),
                   ("svc", "zero"): np.where(hot, 2.0, 0.0)}, t)
    spread = scores.score_table(table, 30.0, 0.05, "spread").per_metric["baro"]
    level = scores.score_table(table, 30.0, 0.05, "level").per_metric["baro"]
    assert 1 < spread[("svc", "errors")] < 5
    assert level[("svc", "errors")] > 1000 and level[("svc", "avail")] < 0.1
    assert level[("svc", "zero")] == pytest.approx(spread[("svc", "zero")])  # level 0: the spread either way
    with pytest.raises(ValueError, match="allowed: spread, level"):
        scores.score_table(table, 30.0, 0.05, "guess")
