"""`keel investigate --topology bank-of-anthos --scenario FILE`: the keyword planner and the shipped model name
the injected root cause on a topology the model never saw (the model case is slow)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.planner.keyword import KeywordPlanner
from governance.gate import Principal
from tests.agent.fakes import make_service
from tests.ci import unavailable
from tools.topology import load_topology

SCENARIO = Path(__file__).resolve().parents[2] / "evals/scenarios/e2e-topologies/boa-crash-ledgerwriter.yaml"
QUESTION = "why are money transfers failing?"
OPERATOR = Principal("olga", "operator")


def _ask(tmp_path: Path, planner: object) -> str:
    service, _ = make_service(tmp_path, planner, SCENARIO)
    try:
        assert service.live.tools.sim.topology == load_topology("bank-of-anthos")
        reply = service.ask(QUESTION, OPERATOR, "c-boa")
    finally:
        service.close()
    print(reply.text)
    assert any(s["tool"] == "root_cause_analysis" for s in reply.steps), reply.steps
    return reply.text


def test_keyword_planner_names_the_injected_root_cause(tmp_path: Path) -> None:
    text = _ask(tmp_path, KeywordPlanner())
    assert "Most likely root cause: ledgerwriter" in text


@pytest.mark.slow
@pytest.mark.native_model
def test_shipped_model_names_the_injected_root_cause(tmp_path: Path) -> None:
    try:
        from agent.planner import load_planner
        from agent.settings import get_settings

        s = get_settings()
        planner = load_planner(s.planner, adapter=s.planner_adapter)
    except Exception as e:  # no model file / adapter in this tree: say so instead of failing
        unavailable(f"the real planner does not load here: {type(e).__name__}: {e}")
    try:
        text = _ask(tmp_path, planner)
    finally:
        getattr(planner, "close", lambda: None)()
    first = text.split("- ")[0]
    assert "ledgerwriter" in first, text  # the headline (before the findings) names the root cause
