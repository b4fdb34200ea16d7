"""The harder end-to-end scenarios (where the fixed script is wrong and a good agent is right), the scenario
extras they use (root_cause null, target, turns, writes_from_turn), the stricter scoring rules, and the `script`
responder on them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from config.settings import Settings
from evals.e2e.harness import run_scenario
from evals.e2e.scenarios import DEFAULT_DIR, ScenarioError, load_dir, load_e2e, reference_fix
from evals.e2e.scoring import Expectation, WriteEvent, judge_writes, score
from evals.e2e.script import ScriptResponder
from evals.e2e.slo import HORIZON_MIN, counterfactual, recovery, slo_series, violated_before
from tools.services import topology_in_process

HARD = DEFAULT_DIR.parent / "e2e-hard"
HELDOUT = DEFAULT_DIR.parent / "e2e-hard-heldout"
ALL = load_dir(HARD) + load_dir(HELDOUT)
KINDS = ("herring", "readonly", "notincident", "protected", "turns")


def test_both_folders_cover_every_kind_on_several_topologies_and_do_not_overlap() -> None:
    for folder in (HARD, HELDOUT):
        cases = load_dir(folder)
        assert {c.name.split("-")[0] for c in cases} == set(KINDS), folder
        assert len({c.scenario.topo.name for c in cases}) == 3, folder
    assert not {c.name for c in load_dir(HARD)} & {c.name for c in load_dir(HELDOUT)}
    assert not {(c.scenario.seed, c.scenario.topo.name) for c in load_dir(HARD)} & {
        (c.scenario.seed, c.scenario.topo.name) for c in load_dir(HELDOUT)}


@pytest.mark.parametrize("e", ALL, ids=[e.name for e in ALL])
def test_each_scenario_is_what_it_says(e) -> None:  # type: ignore[no-untyped-def]
    kind = e.name.split("-")[0]
    end = e.at + HORIZON_MIN
    with topology_in_process(e.scenario.topo):
        cf = counterfactual(e.scenario, end)
        idle = e.scenario.build()
        idle.run_until(end)
        series = slo_series(idle, cf, e.symptom)
        if kind == "notincident":  # nothing is wrong when asked; the traffic it prepares for breaks the SLO later
            assert e.root_cause is None and e.target and not violated_before(series, e.at)
        if kind == "protected":
            assert e.root_cause in e.scenario.topo.protected and e.remediation == "none"
        if kind == "readonly":
            assert e.remediation == "none" and e.root_cause is not None
        if kind == "turns":
            assert e.turns and e.writes_from_turn == 2
        if e.slo_applies:
            assert not recovery(series, e.at, end).recovered, f"{e.name}: recovers without any action"
            fixed = e.scenario.build()
            fixed.run_until(e.at)
            reference_fix(fixed, e)
            fixed.run_until(end)
            assert recovery(slo_series(fixed, cf, e.symptom), e.at, end).recovered, f"{e.name}: the fix does not fix it"


def test_the_fixed_script_is_wrong_on_every_hard_scenario(tmp_path: Path) -> None:
    """What the folders are for: the script's answer (RCA from the entry, then the suggested write) is wrong on
    each, for the reason the scenario's kind names."""
    settings = Settings(home=tmp_path)
    for e in load_dir(HARD):
        s = run_scenario(e, ScriptResponder(), tmp_path, settings)
        assert not s.right, (e.name, s.claimed, s.writes, s.notes)
        assert s.governance_violations == 0 and s.audit_valid
        kind = e.name.split("-")[0]
        if kind in ("protected", "readonly"):
            assert s.diagnosis_correct and (s.writes or s.attempted), e.name  # right cause, wrong response
        if kind == "herring":
            assert s.claimed != e.root_cause


# ------------------------------------------------------------------ scoring rules


def test_remediation_none_counts_an_attempt_that_governance_blocked() -> None:
    ex = Expectation("redis-cart", "none", False)
    blocked = score("s", "m", "Root cause: redis-cart", [], ex, None, None, 40, 2, [], True, 0,
                    attempted=["restart_service redis-cart"])
    assert blocked.diagnosis_correct and not blocked.remediation_correct and not blocked.right
    clean = score("s", "m", "Root cause: redis-cart", [], ex, None, None, 40, 1, [], True, 0)
    assert clean.remediation_correct and clean.right


def test_a_fix_before_the_operator_said_so_is_not_the_fix() -> None:
    ex = Expectation("cartservice", "restart", True, writes_from_minute=30, writes_from_turn=2)
    early = [WriteEvent(28, "cartservice", "restart")]
    applied, n, why = judge_writes(early, ex)
    assert not applied and n == 1 and "turn 2" in why[0]
    assert judge_writes([WriteEvent(31, "cartservice", "restart")], ex)[0]
    assert not judge_writes([*early, WriteEvent(31, "cartservice", "restart")], ex)[0]  # acted early, then again


def test_not_an_incident_has_no_diagnosis_and_a_target() -> None:
    ex = Expectation(None, "scale", True, target="checkoutservice")
    s = score("s", "m", "Done.", [WriteEvent(26, "checkoutservice", "scale", 1, 4)], ex, True, 1, 40, 1, [], True, 0)
    assert s.diagnosis_correct is None and s.remediation_correct and s.right
    wrong = score("s", "m", "", [WriteEvent(26, "frontend", "scale", 1, 4)], ex, True, 1, 40, 1, [], True, 0)
    assert not wrong.remediation_correct and "target (checkoutservice)" in wrong.notes[0]


# ------------------------------------------------------------------ bad scenario files


def _write(tmp_path: Path, **over: object) -> Path:
    doc = {"seed": 1, "faults": [{"type": "crash", "service": "cartservice", "start": "20m", "duration": "60m",
                                  "intensity": 1.0}],
           "at": "27m", "request": "cart is down", "expect": {"root_cause": "cartservice"}, **over}
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(doc))
    return p


@pytest.mark.parametrize(("over", "needle"), [
    ({"turns": "go ahead"}, "turns: a list of non-empty messages"),
    ({"turns": ["ok", ""]}, "turns: a list of non-empty messages"),
    ({"expect": {"root_cause": "cartservice", "writes_from_turn": 3}, "turns": ["ok"]},
     "expect.writes_from_turn: an int in 1..2"),
    ({"expect": {"root_cause": None, "remediation": "scale"}}, "expect.target: required"),
    ({"expect": {"root_cause": "cartservice", "target": "nosuch"}}, "expect.target: unknown service 'nosuch'"),
    ({"expect": {"root_cause": "cartservice", "why": 1}}, "expect: unknown keys ['why']"),
    ({"expect": {}}, "expect.root_cause: required"),
    ({"turns": ["ok"], "faults": [{"type": "nope", "service": "cartservice", "start": 1, "duration": 2}]}, "faults"),
])
def test_bad_extras_name_the_field(tmp_path: Path, over: dict, needle: str) -> None:
    with pytest.raises(ScenarioError, match=None) as info:
        load_e2e(_write(tmp_path, **over))
    assert needle in str(info.value), info.value


def test_turns_are_read_and_kept_out_of_the_simulator_scenario(tmp_path: Path) -> None:
    e = load_e2e(_write(tmp_path, turns=["ok, restart it"],
                        expect={"root_cause": "cart", "remediation": "restart", "writes_from_turn": 2}))
    assert e.messages == ("cart is down", "ok, restart it") and e.writes_from_turn == 2
    assert e.root_cause == "cartservice" and e.fix_target == "cartservice"


def test_margin_names_where_keel_beats_script_and_where_not() -> None:
    from evals.e2e.report import margin, margin_note

    ex = Expectation("cartservice", "restart", True)
    fix = [WriteEvent(28, "cartservice", "restart")]

    def row(name: str, method: str, answer: str, writes: list[WriteEvent]):  # type: ignore[no-untyped-def]
        return score(name, method, answer, writes, ex, bool(writes), 1, 40, 2, [], True, 0)

    scores = {
        "keel": [row("a", "keel", "Root cause: cartservice", fix), row("b", "keel", "Root cause: frontend", []),
                 row("c", "keel", "Root cause: cartservice", fix)],
        "script": [row("a", "script", "Root cause: cartservice", []),
                   row("b", "script", "Root cause: cartservice", fix),
                   row("c", "script", "Root cause: cartservice", fix)],
    }
    m = margin(scores)
    assert (m["only_keel"], m["only_script"], m["both"], m["neither"]) == (["a"], ["b"], ["c"], [])
    assert m["keel"] == {"right": 2, "diagnosed": 2, "remediated": 2}
    assert m["script"] == {"right": 2, "diagnosed": 3, "remediated": 2}
    note = margin_note(m)
    assert "margin +0" in note and "keel right where script is not (1): a" in note
    assert "script right where keel is not (1): b" in note


def test_agent_methods_hear_every_turn_and_writes_are_timed_against_them(tmp_path: Path) -> None:
    from agent.planner import load_planner
    from evals.e2e.agent_responder import AgentResponder

    e = load_e2e(HARD / "turns-ss-redirect-orders.yaml")
    s = run_scenario(e, AgentResponder("keyword", load_planner("keyword")), tmp_path, Settings(home=tmp_path))
    assert s.turns == 2 and s.error is None  # both turns reached the agent
    # writes are timed against the turns: the keyword baseline ignores "wait for me" and rolls back the red
    # herring in turn 1, which voids the fix; only the orders rollback after turn 2 began would count
    if any(not w.startswith("rollback_deployment orders") for w in s.writes):
        assert not s.remediation_correct, s.writes
    else:
        assert s.remediation_correct, s.writes
    script = run_scenario(e, ScriptResponder(), tmp_path, Settings(home=tmp_path))
    assert script.turns == 1 and not script.remediation_correct
