"""Every end-to-end scenario produces its symptom on the simulator, and its expected fix is a real fix.

For each file: the symptom service breaks its SLO in the minutes before the request; the red herrings alone
(every fault but the root cause's, plus deploys) do not break it; the textbook remediation applied at the
request minute restores the SLO within the horizon while doing nothing does not.
"""

from __future__ import annotations

from collections import Counter

import pytest

from evals.e2e.scenarios import DEFAULT_DIR, REMEDIATION, load_dir, reference_fix
from evals.e2e.slo import HORIZON_MIN, counterfactual, recovery, slo_series, violated_before

SCENARIOS = load_dir(DEFAULT_DIR)
TOPOLOGY_DIR = DEFAULT_DIR.parent / "e2e-topologies"
HELDOUT_DIR = DEFAULT_DIR.parent / "e2e-topologies-heldout"
ON_TOPOLOGIES = load_dir(TOPOLOGY_DIR) + load_dir(HELDOUT_DIR)


def test_there_are_enough_scenarios_covering_every_fault_on_several_services() -> None:
    assert len(SCENARIOS) >= 30
    services: dict[str, set[str]] = {}
    for e in SCENARIOS:
        services.setdefault(e.fault, set()).add(e.root_cause)
    assert set(services) == set(REMEDIATION)
    assert all(len(s) >= 3 for s in services.values()), services
    herrings = [e for e in SCENARIOS if len(e.scenario.faults) > 1 or e.scenario.deploys]
    assert len(herrings) >= 10
    kinds = Counter(f.type for e in herrings for f in e.scenario.faults if f.service != e.root_cause)
    kinds["deploy"] = sum(1 for e in herrings if e.scenario.deploys)
    assert kinds["deploy"] >= 3 and kinds["traffic_spike"] >= 3 and kinds["cpu_hog"] >= 2, kinds


def test_scenarios_on_the_other_topologies_cover_both_and_every_remediation() -> None:
    shipped = load_dir(TOPOLOGY_DIR)
    assert len(shipped) >= 8 and len(load_dir(HELDOUT_DIR)) >= 4
    assert {e.scenario.topo.name for e in shipped} == {"sock-shop", "bank-of-anthos"}
    assert {e.remediation for e in shipped} == {"restart", "rollback", "scale", "none"}
    assert not {e.name for e in shipped} & {e.name for e in load_dir(HELDOUT_DIR)}
    assert all(e.scenario.topo.name == "online-boutique" for e in SCENARIOS)  # the shop set is unchanged


@pytest.mark.parametrize("e", SCENARIOS + ON_TOPOLOGIES, ids=[e.name for e in SCENARIOS + ON_TOPOLOGIES])
def test_symptom_is_visible_and_the_expected_fix_fixes_it(e) -> None:  # type: ignore[no-untyped-def]
    end = e.at + HORIZON_MIN
    cf = counterfactual(e.scenario, end)
    assert e.remediation == REMEDIATION[e.fault]
    assert all(f.start + f.duration >= end for f in e.scenario.faults if f.service == e.root_cause)

    idle = e.scenario.build()
    idle.run_until(end)
    series = slo_series(idle, cf, e.symptom)
    assert violated_before(series, e.at), f"{e.name}: {e.symptom} meets its SLO when the request comes"
    assert not recovery(series, e.at, end).recovered, f"{e.name}: recovers without any action"

    others = e.scenario.model_copy(update={"faults": [f for f in e.scenario.faults if f.service != e.root_cause]})
    herring = others.build()
    herring.run_until(end)
    assert slo_series(herring, cf, e.symptom).ok[e.at - 10 : end].all(), f"{e.name}: a red herring alone breaks the SLO"

    if e.slo_applies:
        fixed = e.scenario.build()
        fixed.run_until(e.at)
        reference_fix(fixed, e)
        fixed.run_until(end)
        r = recovery(slo_series(fixed, cf, e.symptom), e.at, end)
        assert r.recovered and r.mttm_min is not None and r.mttm_min <= 5, f"{e.name}: the fix does not fix it"
