"""The answer's headline follows the root-cause analysis' confidence: one cause, or inconclusive with three."""

from __future__ import annotations

from agent.answer import collect_findings, compose


def _step(data: dict) -> dict:
    return {"tool": "root_cause_analysis", "args": {}, "result": {"status": "ok", "data": data}}


RANKING = [{"service": s, "score": sc, "path": ["frontend", s], "evidence": []}
           for s, sc in (("cartservice", 0.4), ("adservice", 0.35), ("currencyservice", 0.3))]


def test_confident_ranking_names_one_cause() -> None:
    f = collect_findings("why slow?", [_step({"ranking": RANKING, "confidence": 0.8, "inconclusive": False,
                                               "verdict": "most likely root cause: cartservice (confidence 0.80)"})])
    assert compose(f).startswith("Most likely root cause: cartservice")


def test_low_confidence_says_inconclusive_and_asserts_no_single_cause() -> None:
    verdict = ("inconclusive (confidence 0.31 < 0.5): candidates cartservice (cpu 10->50); adservice (cpu 9->30); "
               "currencyservice (no metrics of its own)")
    f = collect_findings("why slow?", [_step({"ranking": RANKING, "confidence": 0.31, "inconclusive": True,
                                               "verdict": verdict})])
    text = compose(f)
    head = text.splitlines()[0]
    assert head.startswith("Root-cause analysis inconclusive") and "Most likely" not in text
    assert all(s in head for s in ("cartservice", "adservice", "currencyservice"))


def test_results_without_confidence_keep_the_old_headline() -> None:
    f = collect_findings("why slow?", [_step({"ranking": RANKING})])
    assert compose(f).startswith("Most likely root cause: cartservice")
