"""The agent as an e2e responder: AgentService over the run's gate and simulator, one planner per method.

The request goes in as principal `oncall` (operator). Every executed step costs one simulated minute
(the simulator advances when the step event arrives, before the next step is planned). When the turn
pauses on an approval, the harness's approver grants it and the turn resumes; the count is recorded.
"""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.memory import InMemorySaver

from agent.service import AgentService, new_conversation_id
from evals.e2e.harness import APPROVAL_NOTE, Run, Transcript

MAX_RESUMES = 32


class AgentResponder:
    def __init__(self, name: str, planner: Any, step_limit: int = 8) -> None:
        self.name, self.planner, self.step_limit = name, planner, step_limit

    def respond(self, run: Run) -> Transcript:
        service = AgentService(self.planner, run.gate, run.live, InMemorySaver(), step_limit=self.step_limit)
        cid = new_conversation_id()
        steps = approvals = 0
        for ev in service.stream(run.scenario.request, run.requester, cid):
            if ev.kind == "step":
                steps += 1
                run.tick(1)
        reply = service.reply(cid)
        for _ in range(MAX_RESUMES):
            if reply.status != "waiting_approval" or not reply.pending:
                break
            for p in reply.pending:
                for ev in service.decide_stream(str(p["approval_id"]), run.approver, True, APPROVAL_NOTE):
                    if ev.kind == "step":
                        steps += 1
                        run.tick(1)
                approvals += 1
            reply = service.reply(cid)
        error = None if reply.status == "answered" else f"turn still {reply.status} after {MAX_RESUMES} resumes"
        return Transcript(answer=reply.text, steps=steps, approvals_granted=approvals, error=error)
