"""The fixed-script baseline (`script`): the investigation the planner's training data is generated from,
run without any model.

root_cause_analysis on the topology's entry service, then the write the top candidate's signature suggests
(`causal.signature`: restart_service, rollback_deployment, or recommend_scaling followed by scale_service to
the recommended count when that is a scale-up; nothing when the signature suggests no write), and an answer
in the training data's words (`Root cause: SVC (kind). Restarted SVC.`). It reads no request text, so it
answers "just tell me", "scale checkout for the sale" and a follow-up turn exactly as it answers an outage:
that is what separates a model that reads the request from the script it was trained on.

Every call goes through the run's governance gate as the requesting operator, one simulated minute a step,
like the agent's. The training data's own generator is `finetune.slm.investigations.investigate`.
"""

from __future__ import annotations

from typing import Any

from evals.e2e.harness import Run, Transcript
from finetune.slm.investigations import ACTION_WORDS
from tools.envelope import ToolResult
from tools.results import ProblemSignature, RootCauseRanking, ScalingRecommendation


class ScriptResponder:
    """root_cause_analysis on the entry service, then the suggested write; see the module docstring."""

    name = "script"

    def respond(self, run: Run) -> Transcript:
        self.steps = self.approvals = 0
        rca = self._call(run, "root_cause_analysis", {"service": run.sim.topology.entry})
        ranking = rca.view("root_cause_analysis")
        if rca.status != "ok" or not isinstance(ranking, RootCauseRanking) or not ranking.ranking:
            why = f": {rca.error}" if rca.error else ""
            return self._done(run, f"I found no root cause{why}.")
        top = ranking.ranking[0]
        svc, sig = top.service, top.signature or ProblemSignature()
        kind, action = sig.kind or "unclear", sig.action or "none"
        headline = f"Root cause: {svc} ({kind.replace('_', ' ')})."
        if action not in ACTION_WORDS:
            return self._done(run, f"{headline} No write clearly fixes this, so I changed nothing.")
        args: dict[str, Any] = {"service": svc}
        if action == "scale_service":
            rec = self._call(run, "recommend_scaling", {"service": svc})
            view = rec.view("recommend_scaling")
            if rec.status != "ok" or not isinstance(view, ScalingRecommendation):
                return self._done(run, f"{headline} The scaling policy gave no recommendation: {rec.error}.")
            now, want = int(view.current_replicas or 0), int(view.recommended_replicas or 0)
            if want <= now:
                return self._done(run, f"{headline} The scaling policy recommends keeping {now} replicas, "
                                       "so I did not scale.")
            args["replicas"] = want
        result = self._call(run, action, args)
        if result.status == "ok":
            done = f"{ACTION_WORDS[action]} {svc}" + (f" to {args['replicas']} replicas" if "replicas" in args else "")
            return self._done(run, f"{headline} {done}.")
        return self._done(run, f"{headline} {action} on {svc} was {result.status}: {result.error}.")

    def _call(self, run: Run, tool: str, args: dict[str, Any]) -> ToolResult:
        result, granted = run.execute(tool, args, run.requester, "fixed investigation script")
        self.steps += 1
        self.approvals += granted
        run.tick(1)
        return result

    def _done(self, run: Run, answer: str) -> Transcript:
        return Transcript(answer=answer, steps=self.steps, approvals_granted=self.approvals,
                          extra={"turn_minutes": [run.scenario.at]})
