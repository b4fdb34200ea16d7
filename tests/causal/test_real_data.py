"""The bar on the real labelled data (skipped when ../shared/data is absent): keel, and keel as chosen without
the dataset (`keel_left_out`, leave-one-dataset-out), are at least as good as the best of NSigma and BARO on
AC@1 and Avg@5, in the same run, on the metric-visible faults. PC-PageRank takes seconds per case and is left
to `keel eval rca`.
"""

from __future__ import annotations

import pytest

from causal.config import LEFT_OUT
from causal.loaders import load
from evals import rca as ev
from tests.conftest import shared_data

METHODS = ["keel", "keel_left_out", "random", "nsigma", "baro"]


def _overall(dataset: str, sub: str, mode: str, name: str) -> dict[str, dict[str, float]]:
    if name not in LEFT_OUT:
        pytest.fail(f"no configuration chosen without {name}: run keel eval rca-protocol --write")
    cases = load(dataset, shared_data(sub))
    return ev.summarise(ev.run(cases, mode, METHODS, dataset=name), METHODS)["overall"]


def _at_least_the_best_baseline(r: dict[str, dict[str, float]], label: str) -> None:
    print(f"\n{label}: " + ", ".join(f"{m} {r[m]['ac1']:.2f}/{r[m]['avg5']:.2f}" for m in METHODS))
    for metric in ("ac1", "avg5"):
        best = max(r[m][metric] for m in ("nsigma", "baro"))
        for m in ("keel", "keel_left_out"):
            assert r[m][metric] >= best, (m, metric, r[m][metric], best)
    assert r["keel"]["median_s"] <= 5.0


@pytest.mark.parametrize("mode", ["exact", "detect"])
def test_sock_shop(mode: str) -> None:
    _at_least_the_best_baseline(_overall("sockshop", "rca/sockshop", mode, "sockshop"), f"sockshop {mode}")


@pytest.mark.parametrize("mode", ["exact", "detect"])
def test_nezha_online_boutique(mode: str) -> None:
    _at_least_the_best_baseline(_overall("nezha", "rca/nezha-ob", mode, "nezha-ob"), f"nezha-ob {mode}")
