"""Golden renderings of every tool's result shapes: the planner's `Seen:` lines (the shipped adapter was
trained on them, so they must stay byte-for-byte), the one-line step summaries, the trajectory answers, the
composed answer and the incident findings of whole turns.

`golden/tool_results.json` holds the inputs (real results recorded on the simulator plus hand-made shapes:
other backends, governance outcomes, errors); `golden/renderings.json` what each reader printed for them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent.answer import collect_findings, compose, planner_findings
from agent.graph.render import result_text
from agent.planner.base import Step
from agent.summary.findings import findings_from_agent_steps
from finetune.slm.trajectories import answer
from runtime.prompt import render_observation, render_prompt
from tools.envelope import ToolResult

HERE = Path(__file__).parent / "golden"
CASES: list[dict[str, Any]] = json.loads((HERE / "tool_results.json").read_text())
EXPECTED: dict[str, Any] = json.loads((HERE / "renderings.json").read_text())
BY_NAME = {c["name"]: c for c in CASES}

# Whole turns (case names in order) whose answer, findings and prompt are rendered together.
TURNS: dict[str, list[str]] = {
    "crash": ["metrics-latency_p99", "topology-one", "rca-crash", "logs-errors", "restart-ok", "metrics-replicas"],
    "leak": ["metrics-leak-memory", "rca-leak", "logs-spaces", "restart-pending"],
    "hog": ["metrics-cpu", "metrics-1h", "rca-hog", "scaling-hog", "scale-ok"],
    "burst": ["metrics-burst-errors", "rca-burst", "logs-all", "rollback-ok", "summary-ok"],
    "refused": ["rca-quiet", "scale-denied", "rollback-denied-person", "restart-error", "logs-error"],
    "runbooks": ["topology-all", "runbook-ok", "runbook-pending", "runbook-failed", "scaling-synth", "summary-synth"],
    "k8s": ["scale-k8s", "restart-k8s", "rollback-k8s", "rca-nosig", "rca-single"],
    "empty": ["metrics-nodata", "logs-none", "rca-empty-ranking", "rca-error", "scaling-nodata", "invalid-args"],
    "health": ["health-quiet", "health-one", "health-crash"],
}
GOVERNANCE = {"ok": ("logging", "low"), "pending_approval": ("approval", "high"), "denied": ("blocking", "critical")}


def _step(case: dict[str, Any]) -> dict[str, Any]:
    """A case as the graph records it (a StepRecord after a JSON round trip)."""
    res = json.loads(json.dumps(case["result"]))
    oversight, risk = GOVERNANCE.get(res["status"], (None, None))
    data = res.get("data") if isinstance(res.get("data"), dict) else {}
    return {"tool": case["tool"], "args": case["args"], "result": res, "oversight": oversight, "risk": risk,
            "reasons": list(data.get("reasons") or []), "approval_id": data.get("approval_id"),
            "approved_by": None}


def render_case(case: dict[str, Any]) -> dict[str, str]:
    result = ToolResult.model_validate(json.loads(json.dumps(case["result"])))
    return {"observation": render_observation(case["tool"], case["args"], result),
            "line": result_text(case["tool"], result.to_dict()),
            "answer": answer(case["tool"], case["args"], result)}


def render_turn(names: list[str]) -> dict[str, Any]:
    steps = [_step(BY_NAME[n]) for n in names]
    history = [Step(tool=s["tool"], args=s["args"], result=ToolResult.model_validate(s["result"])) for s in steps]
    f = collect_findings("checkout is slow, what is going on?", steps)
    incident = findings_from_agent_steps("checkout is slow, what is going on?", steps, "c-1")
    return {"prompt": render_prompt("checkout is slow, what is going on?", history),
            "answer": compose(f, stop_note="(stopped)", planner_sentence=""),
            "planner_findings": json.loads(json.dumps(planner_findings(f), default=str)),
            "incident": json.loads(json.dumps(incident.to_dict(), default=str)),
            "incident_for_planner": json.loads(json.dumps(incident.for_planner(), default=str))}


def render_all() -> dict[str, Any]:
    return {"cases": {c["name"]: render_case(c) for c in CASES},
            "turns": {name: render_turn(names) for name, names in TURNS.items()}}


def test_every_tool_and_status_is_covered() -> None:
    from tools.contract import TOOLS

    assert {c["tool"] for c in CASES} == set(TOOLS)
    assert {c["result"]["status"] for c in CASES} == {"ok", "error", "no_data", "denied", "pending_approval"}


@pytest.mark.parametrize("name", [c["name"] for c in CASES])
def test_case_renderings_are_unchanged(name: str) -> None:
    assert render_case(BY_NAME[name]) == EXPECTED["cases"][name]


@pytest.mark.parametrize("name", list(TURNS))
def test_turn_renderings_are_unchanged(name: str) -> None:
    assert render_turn(TURNS[name]) == EXPECTED["turns"][name]


if __name__ == "__main__":  # records the renderings (only when the formats are meant to change)
    (HERE / "renderings.json").write_text(json.dumps(render_all(), indent=1) + "\n")
