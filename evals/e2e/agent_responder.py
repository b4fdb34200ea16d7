"""The agent as an e2e responder: AgentService over the run's gate and simulator, one planner per method.

The request goes in as principal `oncall` (operator). Every executed step costs one simulated minute (the
simulator advances when the step event arrives, before the next step is planned). When the turn pauses on an
approval, the harness's approver grants it and the turn resumes; the count is recorded. The scenario's later
`turns` are sent one by one in the same conversation after each answer; the simulated minute each message was
sent is reported (`turn_minutes`). With `follow_up` set, an answer after which the cluster received no write
gets one more message in the same conversation (an on-call person saying e.g. "go ahead and mitigate it"); off
by default.
"""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.memory import InMemorySaver

from agent.service import AgentService, new_conversation_id
from evals.e2e.harness import APPROVAL_NOTE, Run, Transcript, executed_writes

MAX_RESUMES = 32


class AgentResponder:
    def __init__(self, name: str, planner: Any, step_limit: int = 8, follow_up: str | None = None) -> None:
        self.name, self.planner, self.step_limit, self.follow_up = name, planner, step_limit, follow_up

    def respond(self, run: Run) -> Transcript:
        service = AgentService(self.planner, run.gate, run.live, InMemorySaver(), step_limit=self.step_limit)
        cid = new_conversation_id()
        self.steps = self.approvals = 0
        answers: list[str] = []
        minutes: list[int] = []
        for message in run.scenario.messages:
            minutes.append(int(run.sim.minute))
            reply = self._turn(service, run, message, cid)
            answers.append(reply.text)
            if reply.status != "answered":
                break
        followed = False
        if self.follow_up and reply.status == "answered" and not executed_writes(run.sim, run.scenario.at):
            followed = True
            minutes.append(int(run.sim.minute))
            reply = self._turn(service, run, self.follow_up, cid)
            answers.append(reply.text)
        error = None if reply.status == "answered" else f"turn still {reply.status} after {MAX_RESUMES} resumes"
        return Transcript(answer="\n\n".join(answers), steps=self.steps, approvals_granted=self.approvals,
                          error=error, extra={"follow_up_sent": followed, "turn_minutes": minutes})

    def _turn(self, service: AgentService, run: Run, text: str, cid: str) -> Any:
        for ev in service.stream(text, run.requester, cid):
            self._step(ev, run)
        reply = service.reply(cid)
        for _ in range(MAX_RESUMES):
            if reply.status != "waiting_approval" or not reply.pending:
                break
            for p in reply.pending:
                for ev in service.decide_stream(str(p["approval_id"]), run.approver, True, APPROVAL_NOTE):
                    self._step(ev, run)
                self.approvals += 1
            reply = service.reply(cid)
        return reply

    def _step(self, ev: Any, run: Run) -> None:
        if ev.kind == "step":
            self.steps += 1
            run.tick(1)
