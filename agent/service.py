"""AgentService: one per process. Runs conversation turns through the graph and resumes paused ones.

It holds the planner, the gate, the checkpointer and the live tool context. Channels (HTTP, web page,
CLI, Slack, the runbook engine) call `ask`, `stream` and `decide`; nothing else touches the graph.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.types import Command, StreamMode

from agent.admission import Admission, Busy
from agent.answer import collect_findings, compose
from agent.context import LiveContext, build_context
from agent.graph import Event, Reply
from agent.graph.graph import build_graph
from agent.graph.nodes import Nodes
from agent.planner.base import Planner
from agent.settings import Settings
from governance.gate import Gate, Principal
from tools.backends.sim.scenario import Scenario

log = logging.getLogger(__name__)

__all__ = ["AgentService", "Busy", "ConversationBusy", "UnknownApproval", "build_service"]


CONVERSATION_WAIT_S = 10.0  # how long a new turn waits for the conversation's running turn to end


class ConversationBusy(RuntimeError):
    """A turn is already running in this conversation, or it waits for an approval."""


class UnknownApproval(KeyError):
    """No paused conversation waits for this approval id."""


class AgentService:
    def __init__(self, planner: Planner, gate: Gate, live: LiveContext, checkpointer: BaseCheckpointSaver, *,
                 step_limit: int = 8, queue_size: int = 16) -> None:
        self.planner, self.gate, self.live, self.checkpointer = planner, gate, live, checkpointer
        self.admission = Admission(queue_size)
        self.nodes = Nodes(planner=planner, gate=gate, ctx=live.tools, step_limit=step_limit, ctx_lock=live.lock)
        self.graph = build_graph(self.nodes, checkpointer)
        self.notifications: deque[dict[str, Any]] = deque(maxlen=200)
        self._conv_locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._approval_threads: dict[str, str] = {}

    # ------------------------------------------------------------------ public API
    def ask(self, text: str, principal: Principal, conversation_id: str | None = None, channel: str = "") -> Reply:
        """Run one turn to its end (answered, or paused on an approval) and return the Reply."""
        cid = conversation_id or new_conversation_id()
        for _ in self.stream(text, principal, cid, channel):
            pass
        return self.reply(cid)

    def stream(self, text: str, principal: Principal, conversation_id: str | None = None,
               channel: str = "") -> Iterator[Event]:
        """Run one turn, yielding events as they happen. Raises Busy (queue full) or ConversationBusy at the
        first `next()`, before anything runs."""
        cid = conversation_id or new_conversation_id()
        text = text.strip()
        if not text:
            raise ValueError("the request text is empty")
        started = self.admission.enter()
        try:
            with self._conversation(cid):
                waiting = self._waiting_on(cid)
                if waiting:
                    raise ConversationBusy(f"conversation {cid} waits for approval {waiting}; approve or deny it first")
                self._audit_request(text, principal, cid, channel)
                yield Event("turn", {"conversation_id": cid, "request": text,
                                     "principal": {"name": principal.name, "role": principal.role}})
                inp: dict[str, Any] = {"request": text, "principal": {"name": principal.name, "role": principal.role},
                       "conversation_id": cid, "steps": [], "call": None, "outcome": None, "stop": None,
                       "stop_detail": "", "planner_text": "", "answer": ""}
                yield from self._run(inp, cid)
        finally:
            self.admission.leave(started)

    def decide(self, approval_id: str, principal: Principal, approve: bool, note: str = "") -> Reply:
        """Approve or deny a pending action (the gate checks the role), then resume its conversation."""
        cid = None
        for ev in self.decide_stream(approval_id, principal, approve, note):
            cid = ev.data.get("conversation_id", cid)
        return self.reply(cid or self.conversation_of(approval_id))

    def decide_stream(self, approval_id: str, principal: Principal, approve: bool, note: str = "") -> Iterator[Event]:
        cid = self.conversation_of(approval_id)
        approval = self.gate.approvals.get(approval_id)
        wanted = "approved" if approve else "denied"
        if approval is not None and approval.status == wanted and principal.role == "approver":
            # decided already through another channel (CLI, Slack): only resume the paused conversation
            principal = Principal(approval.decided_by or principal.name, principal.role)
            note = note or approval.note
        elif approve:
            self.gate.approve(approval_id, principal, note)
        else:
            self.gate.deny(approval_id, principal, note)
        with self._conversation(cid):
            if self._waiting_on(cid) != approval_id:
                raise UnknownApproval(f"conversation {cid} no longer waits for approval {approval_id}")
            yield Event("turn", {"conversation_id": cid, "approval_id": approval_id, "approved": approve,
                                 "by": principal.name})
            resume = {"approved": approve, "by": principal.name, "note": note}
            yield from self._run(Command(resume=resume), cid)

    def reply(self, conversation_id: str) -> Reply:
        """The conversation's latest turn as a Reply (answered, or waiting with its pending approval)."""
        snap = self.graph.get_state(_config(conversation_id))
        values = snap.values or {}
        pending = [dict(i.value) for i in snap.interrupts]
        steps = list(values.get("steps") or [])
        if pending:
            outcome = values.get("outcome")
            shown = steps + ([outcome] if outcome else [])
            text = compose(collect_findings(values.get("request", ""), shown))
            return Reply(conversation_id, "waiting_approval", text, shown, pending)
        return Reply(conversation_id, "answered", values.get("answer", ""), steps, [])

    def conversation(self, conversation_id: str) -> dict[str, Any]:
        """Past turns and the current one, for the web page and the audit view."""
        snap = self.graph.get_state(_config(conversation_id))
        if not snap.values:
            raise KeyError(f"unknown conversation {conversation_id!r}")
        return {"conversation_id": conversation_id, "turns": list(snap.values.get("turns") or []),
                "current": self.reply(conversation_id).to_dict()}

    def conversation_of(self, approval_id: str) -> str:
        """The conversation paused on `approval_id` (remembered, else found in the approval store)."""
        cid = self._approval_threads.get(approval_id)
        if cid is None:
            cid = self._approval_conversation(approval_id)
        if cid is None:
            raise UnknownApproval(f"no conversation waits for approval {approval_id!r}")
        return cid

    def on_notify(self, message: dict[str, Any]) -> None:
        """The gate's notification hook: kept for /api/incidents and logged."""
        self.notifications.append(message)
        log.info("notification: %s", message)

    def close(self) -> None:
        self.live.close()

    # ------------------------------------------------------------------ internals
    def _run(self, inp: Any, cid: str) -> Iterator[Event]:
        modes: list[StreamMode] = ["custom", "updates"]
        for mode, chunk in self.graph.stream(inp, _config(cid), stream_mode=modes, durability="sync"):
            if mode == "custom":
                custom = cast(dict[str, Any], chunk)
                ev = Event(custom["kind"], {"conversation_id": cid, **custom["data"]})
                if ev.kind == "approval" and ev.data.get("approval_id"):
                    self._approval_threads[ev.data["approval_id"]] = cid
                yield ev
        reply = self.reply(cid)
        if reply.status == "waiting_approval":
            yield Event("paused", {"conversation_id": cid, "text": reply.text, "pending": reply.pending})

    def _waiting_on(self, cid: str) -> str | None:
        snap = self.graph.get_state(_config(cid))
        for i in snap.interrupts:
            return str(i.value.get("approval_id"))
        return None

    @contextmanager
    def _conversation(self, cid: str) -> Iterator[None]:
        with self._locks_guard:
            lock = self._conv_locks.setdefault(cid, threading.Lock())
        if not lock.acquire(timeout=CONVERSATION_WAIT_S):  # a turn that is just finishing gets to finish
            raise ConversationBusy(f"a turn is already running in conversation {cid}")
        try:
            yield
        finally:
            lock.release()

    def _audit_request(self, text: str, principal: Principal, cid: str, channel: str) -> None:
        self.gate.record_request(text, principal, conversation_id=cid, channel=channel)

    def _approval_conversation(self, approval_id: str) -> str | None:
        approval = self.gate.approvals.get(approval_id)
        return approval.conversation_id if approval is not None else None


def new_conversation_id() -> str:
    return "c-" + uuid.uuid4().hex[:12]


def _config(cid: str) -> RunnableConfig:
    return {"configurable": {"thread_id": cid}}


def build_service(settings: Settings, scenario: Scenario | str | Path | None = None, *, planner: Planner | None = None,
                  context: LiveContext | None = None, live: bool = True) -> AgentService:
    """The process's service from settings: planner, gate (SQLite audit and approvals), SQLite checkpoints,
    and the tool context (`context`, else `build_context`: the embedded simulator running `scenario`)."""
    from agent.checkpoint import checkpointer_from_settings
    from governance.gate import gate_from_settings

    settings.ensure_home()
    ctx = context or build_context(settings, scenario, live=live)
    if planner is None:
        from agent.planner import load_planner

        planner = load_planner(settings.planner, adapter=settings.planner_adapter)
    holder: list[AgentService] = []
    gate = gate_from_settings(settings, notify=lambda m: holder[0].on_notify(m) if holder else None)
    saver = checkpointer_from_settings(settings)
    service = AgentService(planner, gate, ctx, saver, step_limit=settings.step_limit, queue_size=settings.queue_size)
    holder.append(service)
    return service
