"""The graph's nodes: plan, govern, await_approval, act, observe, respond.

`Nodes` holds what they need (planner, gate, tool context, locks); each node returns a partial state
update and emits events through LangGraph's stream writer (a no-op outside `stream`). Tools never run
here directly: every call goes through the gate, which validates, decides, audits and runs it.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from typing import Any

from langgraph.config import get_stream_writer
from langgraph.types import interrupt

from agent.answer import collect_findings, compose, findings_text, is_grounded, planner_findings
from agent.graph import prompts
from agent.graph.render import result_text
from agent.graph.state import AgentState
from agent.planner.base import Planner, Step
from governance.gate import Gate, Principal
from tools.backends.base import ToolContext
from tools.contract import ContractError, canonical_args, validate_call
from tools.envelope import ToolResult


def _emit(kind: str, data: dict[str, Any]) -> None:
    get_stream_writer()({"kind": kind, "data": data})


def _canonical(tool: str, args: dict[str, Any]) -> dict[str, Any]:
    try:
        return canonical_args(validate_call(tool, args))
    except ContractError:
        return dict(args)


def principal_of(state: AgentState) -> Principal:
    p = state.get("principal") or {"name": "anonymous", "role": "viewer"}
    return Principal(name=p["name"], role=p["role"])  # type: ignore[arg-type]


def governance_view(result: ToolResult) -> dict[str, Any]:
    """Risk, oversight, reasons and approval id carried by a pending or denied gate result."""
    if result.status not in ("pending_approval", "denied") or not isinstance(result.data, dict):
        return {"risk": None, "oversight": None, "reasons": [], "approval_id": None}
    d = result.data
    return {"risk": d.get("risk"), "oversight": d.get("oversight"), "reasons": list(d.get("reasons") or []),
            "approval_id": d.get("approval_id")}


@dataclass
class Nodes:
    planner: Planner
    gate: Gate
    ctx: ToolContext
    step_limit: int = 8
    model_lock: threading.Lock = field(default_factory=threading.Lock)
    ctx_lock: Any = field(default_factory=contextlib.nullcontext)

    # ------------------------------------------------------------------ plan
    def plan(self, state: AgentState) -> dict[str, Any]:
        steps = state.get("steps") or []
        if len(steps) >= self.step_limit:
            return {"call": None, "stop": "step_limit"}
        history = [Step(tool=s["tool"], args=s["args"], result=ToolResult.model_validate(s["result"])) for s in steps]
        try:
            with self.model_lock:
                pc = self.planner.plan(state["request"], history)
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
        if any(s["tool"] == pc.tool and _canonical(s["tool"], s["args"]) == args for s in steps):
            return {"call": None, "stop": "repeat", "stop_detail": pc.tool}
        return {"call": {"tool": pc.tool, "args": args, "n": n, "planner_latency_ms": pc.latency_ms}, "stop": None}

    # ------------------------------------------------------------------ govern (and run when no person is needed)
    def govern(self, state: AgentState) -> dict[str, Any]:
        call = state["call"] or {}
        rationale = prompts.rationale(call["n"], state["request"])
        principal = principal_of(state)
        with self.ctx_lock:
            try:  # the decision as it stands (for display); the gate decides again, authoritatively, and records
                decision = self.gate.explain(call["tool"], call["args"], self.ctx, principal, rationale).to_dict()
            except ContractError:
                decision = {}
            result = self.gate.execute(call["tool"], call["args"], self.ctx, principal, rationale,
                                       conversation_id=state.get("conversation_id"))
        view = governance_view(result)
        if view["oversight"] is None and decision:
            view.update(risk=decision.get("risk"), oversight=decision.get("oversight"),
                        reasons=list(decision.get("reasons") or []))
        rec: dict[str, Any] = {"tool": call["tool"], "args": call["args"], "rationale": rationale, **view,
                           "result": result.to_dict(), "approved_by": None}
        if result.status == "pending_approval":
            rec["summary"] = "waiting for approval"
            _emit("approval", {"n": call["n"], **rec})
        return {"outcome": rec}

    # ------------------------------------------------------------------ pause for a person
    def await_approval(self, state: AgentState) -> dict[str, Any]:
        rec = dict(state["outcome"] or {})
        answer = interrupt({"approval_id": rec["approval_id"], "tool": rec["tool"], "args": rec["args"],
                            "risk": rec["risk"], "oversight": rec["oversight"], "reasons": rec["reasons"]})
        if answer.get("approved"):
            return {"outcome": {**rec, "approved_by": answer.get("by")}}
        note = f": {answer['note']}" if answer.get("note") else ""
        denied = ToolResult(status="denied", error=prompts.DENIED_BY_PERSON.format(who=answer.get("by"), note=note),
                            data=rec["result"].get("data"))
        return {"outcome": {**rec, "result": denied.to_dict()}}

    # ------------------------------------------------------------------ run an approved action (exactly once)
    def act(self, state: AgentState) -> dict[str, Any]:
        rec = dict(state["outcome"] or {})
        with self.ctx_lock:
            result = self.gate.run_approved(rec["approval_id"], self.ctx)
        return {"outcome": {**rec, "result": result.to_dict()}}

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
        sentence = self._grounded_sentence(state, findings) if steps else ""
        text = compose(findings, stop_note=note, planner_sentence=sentence)
        if not text:
            sentence = state.get("planner_text", "")
            text = sentence if sentence and is_grounded(sentence, []) else prompts.NO_FINDINGS
        _emit("answer", {"text": text, "stop": stop})
        return {"answer": text, "turns": [{"request": state["request"], "answer": text, "steps": len(steps)}]}

    def _grounded_sentence(self, state: AgentState, findings: dict[str, Any]) -> str:
        """The planner's summary of the findings, kept only if its numbers and services are in the findings."""
        source = findings_text(findings)
        candidates = [state.get("planner_text", "")]
        try:
            with self.model_lock:
                candidates.insert(0, self.planner.summarize(planner_findings(findings)))
        except Exception:  # a summary is optional; the template answer stands on its own
            pass
        for c in candidates:
            c = (c or "").strip()
            if c and is_grounded(c, [source]):
                return c
        return ""
