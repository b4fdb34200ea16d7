"""Routes a person's decision on a pending approval to what waits on it.

An approval a conversation waits on resumes that conversation (the graph's `interrupt()` returns the
decision). One nothing waits on (a write an MCP client asked for) runs, once, as soon as it is approved.
One only a runbook run waits on (a run started by `/api/runbooks`, Slack, or a resumed run's later
step: `Approval.run_id` names it) is decided through the gate and the run is resumed at once; a run the CLI
started replays its own simulator and is left for `keel runbook resume`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

from langgraph.types import Command

from agent.graph import Event, Reply
from governance.gate import Gate, Principal

if TYPE_CHECKING:
    from agent.runbooks.host import RunbookHost
    from agent.runbooks.store import RunRecord
    from governance.approvals import Approval


class ConversationHost(Protocol):
    """What the router needs of the service that runs the conversations (`agent.service.AgentService`)."""

    gate: Gate
    runbooks: RunbookHost | None
    approval_threads: dict[str, str]

    def reply(self, conversation_id: str) -> Reply: ...

    def waiting_on(self, cid: str) -> str | None: ...

    def conversation_lock(self, cid: str) -> AbstractContextManager[None]: ...

    def run_graph(self, inp: Any, cid: str) -> Iterator[Event]: ...

    def runbook_run(self, run_id: str) -> RunRecord | None: ...


class UnknownApproval(KeyError):
    """No such approval, or the conversation that asked for it no longer waits for it."""


class ApprovalRouter:
    """Decides approvals for an AgentService and resumes the conversation or runbook run waiting on each."""

    def __init__(self, service: ConversationHost) -> None:
        self.service = service

    def decide(self, approval_id: str, principal: Principal, approve: bool, note: str = "") -> Reply:
        """Approve or deny a pending action (the gate checks the role), then resume what waits on it: its
        conversation (the Reply is the conversation's), else its runbook run (the Reply describes the run)."""
        cid, decided = None, None
        for ev in self.decide_stream(approval_id, principal, approve, note):
            cid = ev.data.get("conversation_id", cid)
            decided = ev if ev.kind == "decision" else decided
        if decided is not None:
            return Reply(**decided.data["reply"])
        return self.service.reply(cid or self.conversation_of(approval_id))

    def decide_stream(self, approval_id: str, principal: Principal, approve: bool, note: str = "") -> Iterator[Event]:
        """Decide, then yield what resuming produces. Unknown approval id -> UnknownApproval. No conversation
        waits on it -> one `decision` event (its data: approval_id, approved, by, conversation_id, text, run,
        reply) after resuming the runbook run that waits on it, if any."""
        svc = self.service
        approval = svc.gate.approvals.get(approval_id)
        if approval is None:
            raise UnknownApproval(f"no approval {approval_id!r}")
        cid = svc.approval_threads.get(approval_id) or self._conversation_of(approval)
        if cid is None or svc.waiting_on(cid) != approval_id:
            yield self._decide_detached(approval, principal, approve, note)
            return
        principal, note = self._record_decision(approval, principal, approve, note)
        with svc.conversation_lock(cid):
            if svc.waiting_on(cid) != approval_id:
                raise UnknownApproval(f"conversation {cid} no longer waits for approval {approval_id}")
            yield Event("turn", {"conversation_id": cid, "approval_id": approval_id, "approved": approve,
                                 "by": principal.name})
            resume = {"approved": approve, "by": principal.name, "note": note}
            yield from svc.run_graph(Command(resume=resume), cid)
        svc.approval_threads.pop(approval_id, None)  # decided: the approval store still knows its conversation

    def conversation_of(self, approval_id: str) -> str:
        """The conversation paused on `approval_id` (remembered, else found in the approval store)."""
        cid = self.service.approval_threads.get(approval_id)
        if cid is None:
            approval = self.service.gate.approvals.get(approval_id)
            cid = self._conversation_of(approval) if approval is not None else None
        if cid is None:
            raise UnknownApproval(f"no conversation waits for approval {approval_id!r}")
        return cid

    def _conversation_of(self, approval: Approval) -> str | None:
        """The conversation recorded with the approval; for a runbook step's approval the conversation that
        started the run, if one did."""
        if approval.run_id:
            run = self.service.runbook_run(approval.run_id)
            return run.context.get("conversation_id") if run is not None else None
        return approval.conversation_id

    def _record_decision(self, approval: Approval, principal: Principal, approve: bool, note: str,
                         waited_on: bool = True) -> tuple[Principal, str]:
        """Decide through the gate (role, self-approval and expiry checks; audited). An approval something
        still waits on, already decided the same way (CLI, Slack), is taken as it stands, with its approver
        and note; deciding it again when nothing waits on it is the gate's `already_decided` error."""
        gate = self.service.gate
        wanted = "approved" if approve else "denied"
        if waited_on and approval.status == wanted and principal.role == "approver":
            return Principal(approval.decided_by or principal.name, principal.role), note or approval.note
        if approve:
            gate.approve(approval.id, principal, note)
        else:
            gate.deny(approval.id, principal, note)
        return principal, note

    def _decide_detached(self, approval: Approval, principal: Principal, approve: bool, note: str) -> Event:
        """Decide an approval no conversation waits on; resume the runbook run that waits on it at once (the
        watcher would otherwise pick it up on its next sweep). A run started by `keel runbook run` replays
        its own simulator, so it is left for `keel runbook resume`."""
        from agent.runbooks.engine import run_summary
        from agent.runbooks.replies import decision_reply

        svc = self.service
        record = svc.runbook_run(approval.run_id) if approval.run_id else None
        waits = record is not None and record.pending is not None and record.pending.approval_id == approval.id
        principal, note = self._record_decision(approval, principal, approve, note, waited_on=waits)
        run, extra = None, ""
        if record is not None and record.context.get("backend") == "sim":
            extra = f"Runbook run {record.id} was started by `keel runbook run`; continue it with " \
                    f"`keel runbook resume {record.id}`."
        elif record is not None and svc.runbooks is not None:
            run = svc.runbooks.engine.resume(record.id, svc.runbooks.ctx())
        elif approval.run_id:
            extra = f"No runbook engine in this process resumes run {approval.run_id}."
        elif approve and getattr(svc, "live", None) is not None:  # asked directly (an MCP client): run it, once
            live = svc.live  # type: ignore[attr-defined]
            with live.lock:
                result = svc.gate.run_approved(approval.id, live.tools)
            extra = f"{approval.tool} {result.status}: {result.line(approval.tool)}"
        else:
            extra = "No conversation or runbook run waits on it."
        reply = decision_reply(svc.gate.approvals.get(approval.id) or approval, approve, principal.name, run, extra)
        return Event("decision", {"conversation_id": reply.conversation_id, "approval_id": approval.id,
                                  "approved": approve, "by": principal.name, "text": reply.text,
                                  "run": run_summary(run) if run is not None else None,
                                  "reply": reply.to_dict()})
