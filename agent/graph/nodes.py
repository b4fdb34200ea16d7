"""The graph's nodes: plan, govern, await_approval, act, observe, respond.

`Nodes` holds what they need (planner, gate, tool context, locks, the runbook host); each node returns a
partial state update and emits events through LangGraph's stream writer (a no-op outside `stream`). Tools
never run here directly: every call goes through the gate, which validates, decides, audits and runs it.

`run_runbook` and `post_incident_summary` get a per-call copy of the tool context carrying the runbook
engine bound to the conversation's principal and the turn's findings. A runbook step that needs approval
pauses the conversation on that step's approval; once decided, `act` resumes the run (the engine runs the
step, once) and the conversation pauses again if a later step needs approval.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from langgraph.config import get_stream_writer
from langgraph.types import interrupt

from agent.answer import collect_findings, compose, findings_text, planner_findings
from agent.graph import prompts
from agent.graph.render import result_text
from agent.graph.state import AgentState
from agent.planner.base import Planner, Step
from governance.gate import Gate, Principal
from runtime.conversation import Conversation, EarlierTurn
from runtime.grounded_targets import check_target, grounded_services
from runtime.grounding import is_grounded
from tools.backends.base import ToolContext
from tools.contract import ContractError, canonical_args, validate_call
from tools.envelope import ToolResult
from tools.inventory import Inventory

if TYPE_CHECKING:
    from agent.runbooks.host import RunbookHost

CONTEXT_TOOLS = ("run_runbook", "post_incident_summary")  # tools that need per-call deps (and no context lock)


def _emit(kind: str, data: dict[str, Any]) -> None:
    get_stream_writer()({"kind": kind, "data": data})


def _canonical(tool: str, args: dict[str, Any]) -> dict[str, Any]:
    try:
        return canonical_args(validate_call(tool, args))
    except ContractError:
        return dict(args)


def as_conversation(value: Any) -> Conversation | None:
    """The state's `context` as a Conversation (a checkpointer may hand it back as a plain mapping)."""
    if value is None or isinstance(value, Conversation):
        return value
    if isinstance(value, dict):
        earlier = tuple(t if isinstance(t, EarlierTurn) else EarlierTurn(**{**t, "services": tuple(
            t.get("services") or ())}) for t in value.get("earlier") or ())
        return Conversation(earlier, tuple(value.get("services") or ()), tuple(value.get("alert_services") or ()))
    return None


def from_turns(turns: list[dict[str, Any]]) -> Conversation | None:
    """Earlier turns of this conversation from the graph's own record (when the caller passed no context): the
    requests, and the services the turns' tool results produced (root-cause candidates, recommendations)."""
    if not turns:
        return None
    return Conversation(tuple(EarlierTurn(str(t.get("request", "")), str(t.get("answer", "")),
                                          services=tuple(t.get("services") or ())) for t in turns))


def wants_model_summary(steps: list[dict[str, Any]]) -> bool:
    """Whether a turn's answer asks the model for a summary sentence: only when two or more different tools
    ran, so a sentence can connect their findings (a symptom, its cause, the logs, the fix). After one tool the
    answer's template lines already say everything its one result holds, and the model's sentence (kept only
    when grounded in that same result) could only repeat them, for up to 96 more decoded tokens."""
    return len({s.get("tool") for s in steps}) >= 2


def principal_of(state: AgentState) -> Principal:
    p = state.get("principal") or {"name": "anonymous", "role": "viewer"}
    return Principal(name=p["name"], role=p["role"])  # type: ignore[arg-type]


def governance_view(result: ToolResult) -> dict[str, Any]:
    """Risk, oversight, reasons and approval id carried by a pending or denied gate result."""
    pending = result.pending()
    if pending is not None:
        return {"risk": pending.risk, "oversight": pending.oversight, "reasons": list(pending.reasons),
                "approval_id": pending.approval_id}
    if result.status != "denied" or not isinstance(result.data, dict):
        return {"risk": None, "oversight": None, "reasons": [], "approval_id": None}
    d = result.data  # the decision the gate refused with (governance.risk.Decision.to_dict)
    return {"risk": d.get("risk"), "oversight": d.get("oversight"), "reasons": list(d.get("reasons") or []),
            "approval_id": d.get("approval_id")}


def run_of(result: ToolResult) -> str | None:
    """The runbook run a pending result waits in (a run_runbook step needing approval), if any."""
    pending = result.pending()
    return pending.run_id if pending is not None and pending.run_id else None


@dataclass
class Nodes:
    planner: Planner
    gate: Gate
    ctx: ToolContext
    step_limit: int = 8
    model_lock: threading.Lock = field(default_factory=threading.Lock)
    ctx_lock: Any = field(default_factory=contextlib.nullcontext)
    runbooks: RunbookHost | None = None

    # ------------------------------------------------------------------ per-call context
    def call_context(self, state: AgentState, tool: str) -> ToolContext:
        """The tool context for one call: the shared one, or for run_runbook / post_incident_summary a shallow
        copy with this call's deps (the engine bound to the conversation's principal, the turn's findings).
        The shared context is never changed, so concurrent conversations cannot see each other's deps."""
        if tool not in CONTEXT_TOOLS:
            return self.ctx
        base = self.runbooks.ctx() if self.runbooks is not None else self.ctx
        if tool == "run_runbook" and self.runbooks is not None:
            return base.with_deps(runbooks=self.runbooks.engine.bind(
                principal_of(state), {"host": "agent", "conversation_id": state.get("conversation_id")}))
        if tool == "post_incident_summary":
            from agent.summary.findings import findings_from_agent_steps
            from agent.summary.narrative import LockedSummarizer

            incident = findings_from_agent_steps(state["request"], list(state.get("steps") or []),
                                                 state.get("conversation_id"))
            return base.with_deps(incident=incident, summarizer=base.deps.summarizer or LockedSummarizer(
                self.planner, self.planner_lock()))
        return base

    def planner_lock(self) -> Any:
        """The lock around a model call: none for a planner that takes concurrent calls (its model thread
        serialises or batches them), else the agent's model lock."""
        return contextlib.nullcontext() if getattr(self.planner, "concurrent", False) else self.model_lock

    def _lock_for(self, tool: str) -> Any:
        """The context lock around a governed call; a runbook run (which locks per step, and may wait for
        simulated minutes) and a summary post (a model call and a webhook) do not hold it."""
        return contextlib.nullcontext() if tool in CONTEXT_TOOLS else self.ctx_lock

    # ------------------------------------------------------------------ plan
    def plan(self, state: AgentState) -> dict[str, Any]:
        steps = state.get("steps") or []
        if len(steps) >= self.step_limit:
            return {"call": None, "stop": "step_limit"}
        history = [Step(tool=s["tool"], args=s["args"], result=ToolResult.model_validate(s["result"])) for s in steps]
        context = as_conversation(state.get("context")) or from_turns(state.get("turns") or [])
        try:
            with self.planner_lock():
                pc = self.planner.plan(state["request"], history, context=context)
        except Exception as e:  # the planner failing is an answer, not a crash
            return {"call": None, "stop": "plan_failed", "stop_detail": f"{type(e).__name__}: {e}"}
        n = len(steps) + 1
        _emit("plan", {"n": n, "tool": pc.tool, "args": pc.args, "ok": pc.ok, "constrained": pc.constrained,
                       "latency_ms": round(pc.latency_ms, 1)})
        if not pc.ok:
            return {"call": None, "stop": "plan_failed", "stop_detail": f"unparseable planner output {pc.raw[:80]!r}"}
        if pc.tool == "respond":
            return {"call": None, "stop": "respond", "planner_text": str(pc.args.get("text", ""))}
        args = _canonical(pc.tool, dict(pc.args))
        if any(s["tool"] == pc.tool and s["args"] == args for s in steps):  # recorded args are canonical
            return {"call": None, "stop": "repeat", "stop_detail": pc.tool}
        refused = self._ungrounded(state, pc.tool, args, n, context)
        if refused is not None:
            return refused
        return {"call": {"tool": pc.tool, "args": args, "n": n, "planner_latency_ms": pc.latency_ms}, "stop": None}

    def _ungrounded(self, state: AgentState, tool: str, args: dict[str, Any], n: int,
                    context: Conversation | None) -> dict[str, Any] | None:
        """A planned write whose target nobody named (runtime.grounded_targets) is not run: the refusal is audited
        (a proposal and a blocking decision with the reason, no action records) and the agent asks instead."""
        results = [(s["tool"], (s.get("result") or {}).get("data")) for s in state.get("steps") or []]
        check = check_target(tool, args, state["request"], context, results)
        if check is None or check.grounded:
            return None
        reason = f"ungrounded_target: {check.why}"
        self.gate.refuse(tool, args, principal_of(state), prompts.rationale(n, state["request"]), reason,
                         state.get("conversation_id"))
        _emit("refused", {"n": n, "tool": tool, "args": args, "risk": "critical", "oversight": "blocking",
                           "reasons": [reason], "refused": True})
        return {"call": None, "stop": "ungrounded", "stop_detail": reason, "planner_text": check.question}

    # ------------------------------------------------------------------ govern (and run when no person is needed)
    def govern(self, state: AgentState) -> dict[str, Any]:
        call = state["call"] or {}
        rationale = prompts.rationale(call["n"], state["request"])
        principal = principal_of(state)
        ctx = self.call_context(state, call["tool"])
        with self._lock_for(call["tool"]):
            governed = self.gate.govern(call["tool"], call["args"], ctx, principal, rationale,
                                        conversation_id=state.get("conversation_id"))
        result, decision = governed.result, governed.decision
        view = governance_view(result)
        if view["oversight"] is None and decision is not None:
            view.update(risk=decision.risk, oversight=decision.oversight, reasons=list(decision.reasons))
        rec: dict[str, Any] = {"tool": call["tool"], "args": call["args"], "rationale": rationale, **view,
                           "result": result.to_dict(), "approved_by": None}
        if run_of(result):
            rec["run_id"] = run_of(result)
        if result.status == "pending_approval":
            rec["summary"] = "waiting for approval"
            _emit("approval", {"n": call["n"], **rec})
        return {"outcome": rec}

    # ------------------------------------------------------------------ pause for a person
    def await_approval(self, state: AgentState) -> dict[str, Any]:
        rec = dict(state["outcome"] or {})
        asked = {"approval_id": rec["approval_id"], "tool": rec["tool"], "args": rec["args"], "risk": rec["risk"],
                 "oversight": rec["oversight"], "reasons": rec["reasons"]}
        if rec.get("run_id"):  # a runbook step: the approver decides that step, not the run_runbook call
            data = rec["result"].get("data") or {}
            asked.update(tool=data.get("tool"), args=data.get("args") or {}, run_id=rec["run_id"],
                         runbook=data.get("runbook"))
        answer = interrupt(asked)
        if answer.get("approved"):
            return {"outcome": {**rec, "approved_by": answer.get("by")}}
        note = f": {answer['note']}" if answer.get("note") else ""
        denied = ToolResult(status="denied", error=prompts.DENIED_BY_PERSON.format(who=answer.get("by"), note=note),
                            data=rec["result"].get("data"))
        return {"outcome": {**rec, "result": denied.to_dict()}}

    # ------------------------------------------------------------------ run an approved action (exactly once)
    def act(self, state: AgentState) -> dict[str, Any]:
        rec = dict(state["outcome"] or {})
        if rec.get("run_id"):
            result = self._resume_run(rec)
        else:
            with self._lock_for(rec["tool"]):
                result = self.gate.run_approved(rec["approval_id"], self.call_context(state, rec["tool"]))
        rec["result"] = result.to_dict()
        run_id = run_of(result)
        if run_id:  # the runbook (started, or resumed) paused on a step that needs approval: wait for it
            rec.update(governance_view(result), run_id=run_id, approved_by=None, summary="waiting for approval")
            _emit("approval", {"n": len(state.get("steps") or []) + 1, **rec})
        return {"outcome": rec}

    def _resume_run(self, rec: dict[str, Any]) -> ToolResult:
        """Continue the run paused on `rec`'s approval now that it is decided: the engine runs (or refuses)
        the step exactly once and goes on until the end, a failure, or the next step needing approval."""
        from agent.runbooks.engine import run_envelope
        from agent.runbooks.model import RunbookError

        run_id = rec["run_id"]
        if self.runbooks is None:
            return ToolResult.fail(f"runbook run {run_id} waits for approval {rec['approval_id']}, but no runbook "
                                   "engine is attached to this service to resume it", code="not_configured")
        try:
            result = run_envelope(self.runbooks.engine.resume(run_id, self.runbooks.ctx()))
        except RunbookError as e:
            return ToolResult.fail(str(e), code="run_failed")
        refused = rec.get("result") or {}
        if refused.get("status") == "denied" and result.status == "error":  # the run stopped on the denial
            return ToolResult(status="denied", error=refused.get("error"), data=result.data)
        return result

    # ------------------------------------------------------------------ observe
    def observe(self, state: AgentState) -> dict[str, Any]:
        rec = dict(state["outcome"] or {})
        rec["summary"] = result_text(rec["tool"], rec.get("result") or {})
        steps = list(state.get("steps") or []) + [rec]
        _emit("step", {"n": len(steps), **rec})
        return {"steps": steps, "outcome": None, "call": None}

    # ------------------------------------------------------------------ respond
    def respond(self, state: AgentState) -> dict[str, Any]:
        steps = state.get("steps") or []
        findings = collect_findings(state["request"], steps)
        stop = state.get("stop") or "respond"
        note = ""
        if stop == "step_limit":
            note = prompts.STOP_TEXT["step_limit"].format(n=len(steps))
        elif stop == "repeat":
            note = prompts.STOP_TEXT["repeat"].format(tool=state.get("stop_detail", ""))
        elif stop == "plan_failed":
            note = prompts.STOP_TEXT["plan_failed"].format(detail=state.get("stop_detail", "no detail"))
        sentence = self._grounded_sentence(state, findings, model=wants_model_summary(steps)) if steps else ""
        text = compose(findings, stop_note=note, planner_sentence=sentence)
        if stop == "ungrounded":  # the reply ends with the question (a fixed text naming inventory services)
            question = state.get("planner_text", "")
            text = f"{text}\n\n{question}" if text else question
        if not text:
            sentence = state.get("planner_text", "")
            text = sentence if sentence and is_grounded(sentence, []) else prompts.NO_FINDINGS
        _emit("answer", {"text": text, "stop": stop})
        produced = grounded_services("", None, [(s["tool"], (s.get("result") or {}).get("data")) for s in steps],
                                     inventory=Inventory())
        return {"answer": text, "turns": [{"request": state["request"], "answer": text, "steps": len(steps),
                                           "services": sorted(produced)}]}

    def _grounded_sentence(self, state: AgentState, findings: dict[str, Any], model: bool = True) -> str:
        """The planner's summary of the findings (asked for only when `model`), else its reply text; kept only if
        its numbers and services are in the findings."""
        source = findings_text(findings)
        candidates = [state.get("planner_text", "")]
        try:
            if model:
                with self.planner_lock():
                    candidates.insert(0, self.planner.summarize(planner_findings(findings)))
        except Exception:  # a summary is optional; the template answer stands on its own
            pass
        for c in candidates:
            c = (c or "").strip()
            if c and is_grounded(c, [source]):
                return c
        return ""
