"""`keel eval planner --concurrency N`: cases planned at once are scored exactly as one at a time."""

from __future__ import annotations

from agent.planner.keyword import KeywordPlanner
from evals.planner import Case, run_method

CASES = [
    Case("a", "why is checkout slow?", "root_cause_analysis", {"service": "checkoutservice"}),
    Case("b", "restart cartservice", "restart_service", {"service": "cartservice"}),
    Case("c", "restart the flux capacitor", "respond", {}),
    Case("d", "restart it", "restart_service", {"service": "ledger"}, services=("ledger", "gateway"),
         messages=({"role": "user", "content": "why is ledger slow?"},
                   {"role": "assistant", "content": "The likely root cause is ledger."})),
    Case("e", "scale frontend to 4 replicas", "scale_service", {"service": "frontend", "replicas": 4}),
]


def test_concurrent_planning_scores_the_same_rows() -> None:
    keys = ("id", "predicted", "args", "raw", "tool_ok", "args_ok", "unnamed_write", "wrong_write")
    one = run_method("keyword", KeywordPlanner().plan, CASES)
    many = run_method("keyword", KeywordPlanner().plan, CASES, concurrency=4)
    assert [{k: r[k] for k in keys} for r in one.rows] == [{k: r[k] for k in keys} for r in many.rows]
    assert [r["id"] for r in many.rows] == [c.id for c in CASES]  # in case order
    assert one.metrics()["tool_acc"] == many.metrics()["tool_acc"]
