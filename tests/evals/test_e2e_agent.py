"""The e2e harness driving the real agent (AgentService, gate, simulator) with a scripted planner (test double).

Checks the agent path of the harness scores what happened: steps cost simulated minutes, the harness's
approver is counted, the write is read back from the simulator and re-checked against governance.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from agent.planner.base import PlannedCall, Step
from config.settings import Settings
from evals.e2e.agent_responder import AgentResponder
from evals.e2e.harness import run_scenario
from evals.e2e.scenarios import DEFAULT_DIR, load_e2e
from runtime.conversation import Conversation


class Script:
    name = "script"

    def __init__(self, calls: Sequence[tuple[str, dict]]) -> None:
        self.calls = list(calls)

    def plan(self, request: str, history: Sequence[Step] = (), context: Conversation | None = None) -> PlannedCall:
        if len(history) < len(self.calls):
            tool, args = self.calls[len(history)]
            return PlannedCall(tool, args, tool, False, 0.1, True)
        return PlannedCall("respond", {"text": "done"}, "respond", False, 0.1, True)

    def summarize(self, findings: dict) -> str:
        return ""


def test_agent_path_scores_a_correct_restart(tmp_path: Path) -> None:
    e = load_e2e(DEFAULT_DIR / "crash-cartservice.yaml")
    planner = Script([("query_metrics", {"service": "cartservice", "metric": "error_rate", "window": "15m"}),
                      ("restart_service", {"service": "cartservice"})])
    s = run_scenario(e, AgentResponder("keel", planner), tmp_path, Settings(home=tmp_path))
    assert s.error is None, s.error
    assert s.steps == 2 and s.approvals_granted == 1
    assert s.writes == [f"restart_service cartservice @{e.at + 1}"]  # the first step cost one simulated minute
    assert s.remediation_correct and s.wrong_actions == 0 and s.governance_violations == 0 and s.audit_valid
    assert s.claimed == "cartservice" and s.diagnosis_correct
    assert s.slo_recovered and s.mttm_min is not None and s.mttm_min <= 4


def test_agent_path_charges_wrong_writes_and_blocked_ones_do_not_run(tmp_path: Path) -> None:
    e = load_e2e(DEFAULT_DIR / "latency-paymentservice.yaml")
    planner = Script([("restart_service", {"service": "checkoutservice"}),
                      ("scale_service", {"service": "frontend", "replicas": 0}),
                      ("scale_service", {"service": "paymentservice", "replicas": 2})])
    s = run_scenario(e, AgentResponder("base", planner), tmp_path, Settings(home=tmp_path))
    assert s.error is None
    # the restart (high, on checkoutservice, which the request names) needs the approval the harness gives; the
    # scale of frontend (nobody named it) is refused before governance and the turn ends with a question
    assert s.approvals_granted == 1
    assert [w.split(" @")[0] for w in s.writes] == ["restart_service checkoutservice"]
    assert s.wrong_actions == 1 and not s.remediation_correct and s.slo_recovered is None
    assert s.governance_violations == 0 and s.audit_valid


class Obedient(Script):
    """Investigates on the first request; restarts cartservice only when told to act."""

    def plan(self, request: str, history: Sequence[Step] = (), context: Conversation | None = None) -> PlannedCall:
        if "mitigate" in request and not history:
            return PlannedCall("restart_service", {"service": "cartservice"}, "r", False, 0.1, True)
        if not history and "mitigate" not in request:
            return PlannedCall("query_metrics", {"service": "cartservice", "metric": "error_rate", "window": "15m"},
                               "q", False, 0.1, True)
        return PlannedCall("respond", {"text": "done"}, "respond", False, 0.1, True)


def test_follow_up_is_sent_only_when_the_cluster_was_left_untouched(tmp_path: Path) -> None:
    e = load_e2e(DEFAULT_DIR / "crash-cartservice.yaml")
    plain = run_scenario(e, AgentResponder("keel", Obedient([])), tmp_path, Settings(home=tmp_path))
    assert plain.writes == [] and not plain.remediation_correct
    told = run_scenario(e, AgentResponder("keel", Obedient([]), follow_up="go ahead and mitigate it"), tmp_path,
                        Settings(home=tmp_path))
    assert told.remediation_correct and told.steps == 2 and told.approvals_granted == 1
    assert told.writes == [f"restart_service cartservice @{e.at + 1}"]
