"""`keel eval planner` on cases with `services` and `messages`: the grounded-target check is applied as in the
agent, unnamed writes are counted before and after it, and the JSON lists every case."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.planner.base import PlannedCall
from agent.planner.keyword import KeywordPlanner
from evals.planner import load_cases, run_method, to_json
from tools.services import service_names

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "evals" / "cases" / "unseen_systems.jsonl"


class RestartFirst:
    """A planner that restarts the inventory's first service whatever is asked (the worst case)."""

    name = "restart-first"

    def plan(self, request, history=(), context=None) -> PlannedCall:  # type: ignore[no-untyped-def]
        return PlannedCall("restart_service", {"service": service_names()[0]}, "restart", False, 1.0, True)


def test_the_check_turns_every_unnamed_write_into_a_question() -> None:
    cases = load_cases(CASES)
    assert len(cases) >= 60 and len({c.services for c in cases}) >= 5
    res = run_method("restart-first", RestartFirst().plan, cases)
    m = res.metrics()
    assert m["planner_unnamed_write_rate"] > 0.5 and m["unnamed_write_rate"] == 0.0
    asked = [r for r in res.rows if r["guarded"]]
    assert all(r["predicted"] == "respond" and r["args"]["text"].endswith("?") for r in asked)
    # where the first service was named (or produced earlier), the write stands and is judged by the labels
    assert m["wrong_write_rate"] > 0


def test_keyword_on_unseen_systems_and_the_json_rows(tmp_path: Path) -> None:
    cases = load_cases(CASES)
    res = run_method("keyword", KeywordPlanner().plan, cases)
    m = res.metrics()
    assert m["unnamed_write_rate"] == 0.0 and m["planner_unnamed_write_rate"] == 0.0 and m["tool_acc"] > 0.8
    out = to_json(str(CASES), {}, [res])
    assert len(out["cases"]) == len(cases)
    row = out["cases"][0]
    assert set(row) >= {"method", "id", "expected", "predicted", "tool_ok", "args_ok", "unnamed_write", "ms"}
    json.dumps(out)


def test_bad_services_or_messages_name_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "x", "request": "r", "expected": {"tool": "respond"}, "services": "a,b"}) + "\n")
    with pytest.raises(ValueError, match=r"bad.jsonl:1: bad case .*services must be a list"):
        load_cases(bad)
    bad.write_text(json.dumps({"id": "x", "request": "r", "expected": {"tool": "respond"},
                               "messages": [{"role": "robot", "content": "hi"}]}) + "\n")
    with pytest.raises(ValueError, match=r"messages must be a list of \{role, content\}"):
        load_cases(bad)
