"""Scoring rules of the end-to-end eval: claimed root cause, remediation, wrong writes, aggregation."""

from __future__ import annotations

import math

import pytest

from evals.e2e.scoring import Expectation, WriteEvent, aggregate, claimed_root_cause, judge_writes, score


@pytest.mark.parametrize(("text", "expected"), [
    ("Most likely root cause: paymentservice.\n- checkoutservice latency_p99: 700 ms", "paymentservice"),
    ("Root cause (top alert): cartservice\nround 1: ...", "cartservice"),
    ("The root cause is redis-cart, called by cartservice.", "redis-cart"),
    ("paymentservice shows the largest latency_p99 rise among the services I checked.", "paymentservice"),
    ("checkoutservice and paymentservice are both slow.", None),
    ("- Logs of all services: 25 lines. Latest: \"rpc error\" (adservice).\nroot cause analysis points to code.", None),
    ("Done: restart_service on cartservice.\n- restart_service(service=cartservice): done", "cartservice"),
    ("I could not find anything.", None),
    ("", None),
])
def test_claimed_root_cause(text: str, expected: str | None) -> None:
    assert claimed_root_cause(text) == expected


def test_mentioning_the_service_somewhere_is_not_a_claim() -> None:
    text = "Most likely root cause: frontend.\n- paymentservice latency_p99: 700 ms now"
    assert claimed_root_cause(text) == "frontend"


RESTART = Expectation("cartservice", "restart", True)


def test_correct_restart_and_collateral_writes() -> None:
    writes = [WriteEvent(30, "cartservice", "restart"), WriteEvent(30, "frontend", "restart"),
              WriteEvent(31, "cartservice", "restart"), WriteEvent(32, "cartservice", "rollback")]
    applied, n, why = judge_writes(writes, RESTART)
    assert applied and n == 3
    assert any("not the root cause" in w for w in why)
    assert any("repeated" in w for w in why)
    assert any("the fix is restart_service" in w for w in why)


def test_scale_must_go_up() -> None:
    ex = Expectation("checkoutservice", "scale", True)
    assert judge_writes([WriteEvent(30, "checkoutservice", "scale", 2, 1)], ex)[:2] == (False, 1)
    assert judge_writes([WriteEvent(30, "checkoutservice", "scale", 1, 2),
                         WriteEvent(31, "checkoutservice", "scale", 2, 3)], ex)[:2] == (True, 0)


def test_no_write_fixes_latency_injection() -> None:
    ex = Expectation("paymentservice", "none", False)
    assert judge_writes([], ex)[:2] == (False, 0)
    assert judge_writes([WriteEvent(30, "paymentservice", "scale", 1, 2)], ex)[:2] == (False, 1)
    s = score("x", "rules", "Root cause: paymentservice", [], ex, None, None, 40, 3, [], True, 0)
    assert s.remediation_correct and s.diagnosis_correct and s.slo_recovered is None and s.mttm_min is None


def test_an_errored_run_never_scores_a_remediation() -> None:
    ex = Expectation("paymentservice", "none", False)
    s = score("x", "keel", "", [], ex, None, None, 40, 0, [], True, 0, error="boom")
    assert not s.remediation_correct and not s.diagnosis_correct


def test_unrecovered_counts_the_horizon_and_aggregate() -> None:
    a = score("a", "m", "Root cause: cartservice", [WriteEvent(30, "cartservice", "restart")], RESTART,
              True, 2, 40, 4, [], True, 1)
    b = score("b", "m", "Root cause: frontend", [WriteEvent(30, "frontend", "restart")], RESTART,
              False, None, 40, 6, ["restart_service frontend: ran without approval"], False, 0)
    c = score("c", "m", "nothing", [], Expectation("paymentservice", "none", False), None, None, 40, 2, [], True, 0)
    agg = aggregate([a, b, c])
    assert agg["diagnosis_acc"] == pytest.approx(1 / 3)
    assert agg["remediation_rate"] == pytest.approx(2 / 3)
    assert agg["slo_recovered_rate"] == pytest.approx(0.5)
    assert agg["mttm_min"] == pytest.approx((2 + 40) / 2)
    assert agg["wrong_actions"] == 1 and agg["governance_violations"] == 1
    assert agg["audit_valid_rate"] == pytest.approx(2 / 3) and agg["approvals_granted"] == 1
    assert agg["steps_mean"] == pytest.approx(4.0)
    assert agg["root_mentioned_rate"] == pytest.approx(1 / 3)  # only a's answer names cartservice


def test_no_applicable_scenario_gives_nan_not_zero() -> None:
    c = score("c", "m", "nothing", [], Expectation("paymentservice", "none", False), None, None, 40, 2, [], True, 0)
    agg = aggregate([c])
    assert math.isnan(agg["slo_recovered_rate"]) and math.isnan(agg["mttm_min"])


def test_claim_is_read_per_turn() -> None:
    text = "- cartservice error_rate: 1.0 now\n\nDone: restart_service on cartservice.\n- restart: done"
    assert claimed_root_cause(text) == "cartservice"
    assert claimed_root_cause("- a finding about frontend\n\n- another about adservice") is None
