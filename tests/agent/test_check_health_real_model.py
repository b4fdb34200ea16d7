""""Is anything else unhealthy?" with the real planner: it calls check_health and the answer lists what is out
of line, worst first.

DEPENDS ON THE RETRAINED ADAPTER: the shipped adapter is only expected to know check_health once its training
data has it (its model card then names the tool). Until then this test skips, saying so; it is not marked to
pass either way.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.planner import ARTIFACT
from governance.gate import Principal
from tests.agent.fakes import make_service
from tests.ci import real_planner

ROOT = Path(__file__).resolve().parents[2]
CRASH = ROOT / "evals" / "scenarios" / "e2e" / "crash-cartservice.yaml"
CARD = ARTIFACT.parent / "MODEL_CARD.md"
OPERATOR = Principal("olga", "operator")


def _adapter_knows_check_health() -> bool:
    return CARD.exists() and "check_health" in CARD.read_text()


pytestmark = [pytest.mark.slow, pytest.mark.native_model, pytest.mark.skipif(
    not _adapter_knows_check_health(),
    reason=f"the shipped adapter predates check_health ({CARD.name} does not name it): this test needs the planner "
           "retrained with check_health in its data")]


@pytest.fixture(scope="module")
def planner():
    return real_planner()


@pytest.mark.parametrize("question", ["is anything else unhealthy?", "what else is broken right now?",
                                      "are any other services in trouble?"])
def test_anything_else_unhealthy_is_answered_from_check_health(tmp_path: Path, planner, question: str) -> None:
    service, _ = make_service(tmp_path, planner, CRASH)
    reply = service.ask(question, OPERATOR, "c-health")
    print(reply.text)
    tools = [s["tool"] for s in reply.steps]
    assert tools and tools[0] == "check_health", tools
    assert not any(t in ("restart_service", "rollback_deployment", "scale_service") for t in tools)
    first = reply.text.splitlines()[0]
    assert "out of line now" in first and "cartservice" in first, reply.text
