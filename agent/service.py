"""AgentService: one per process. Runs conversation turns through the graph and resumes paused ones.

It holds the planner, the gate, the checkpointer, the live tool context and the runbook host. Channels
(HTTP, web page, CLI, Slack, the runbook engine) call `ask`, `stream` and `decide`; nothing else touches
the graph. `decide` hands the decision to the `ApprovalRouter`, which resumes the conversation or runbook run
waiting on it. `agent.composition.build_service` builds the service from the settings.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any, cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.types import StreamMode

from agent.admission import Admission, Busy
from agent.answer import collect_findings, compose
from agent.approval_router import ApprovalRouter, UnknownApproval
from agent.context import LiveContext
from agent.graph import Event, Reply
from agent.graph.graph import build_graph
from agent.graph.nodes import Nodes
from agent.interpretation import reference_note
from agent.planner.base import Planner
from governance.gate import Gate, Principal
from runtime.conversation import Conversation, conversation_from_messages
from tools.errors import InvalidInput

if TYPE_CHECKING:
    from agent.runbooks.host import RunbookHost
    from agent.runbooks.store import RunRecord

log = logging.getLogger(__name__)

__all__ = ["AgentService", "Busy", "ConversationBusy", "UnknownApproval"]


CONVERSATION_WAIT_S = 10.0  # how long a new turn waits for the conversation's running turn to end


class ConversationBusy(RuntimeError):
    """A turn is already running in this conversation, or it waits for an approval."""


class AgentService:
    def __init__(self, planner: Planner, gate: Gate, live: LiveContext, checkpointer: BaseCheckpointSaver, *,
                 step_limit: int = 8, queue_size: int = 16, runbooks: RunbookHost | None = None) -> None:
        self.planner, self.gate, self.live, self.checkpointer = planner, gate, live, checkpointer
        self.admission = Admission(queue_size)
        self.runbooks = runbooks
        self.nodes = Nodes(planner=planner, gate=gate, ctx=live.tools, step_limit=step_limit, ctx_lock=live.lock,
                           runbooks=runbooks)
        self.graph = build_graph(self.nodes, checkpointer)
        self.notifications: deque[dict[str, Any]] = deque(maxlen=200)
        self._conv_locks: dict[str, tuple[threading.Lock, int]] = {}  # lock and how many turns hold or wait
        self._locks_guard = threading.Lock()
        self.approval_threads: dict[str, str] = {}  # approval id -> the conversation that paused on it
        self.approvals = ApprovalRouter(self)

    # ------------------------------------------------------------------ public API
    def ask(self, text: str, principal: Principal, conversation_id: str | None = None, channel: str = "",
            context: Conversation | None = None) -> Reply:
        """Run one turn to its end (answered, or paused on an approval) and return the Reply; a note saying which
        service a reference ("restart it") was taken to mean leads the text."""
        cid = conversation_id or new_conversation_id()
        events = self.stream(text, principal, cid, channel, context=context)
        notes = [ev.data["text"] for ev in events if ev.kind == "note"]
        reply = self.reply(cid)
        if notes and reply.text:
            return replace(reply, text=f"{notes[0]}\n\n{reply.text}")
        return reply

    def stream(self, text: str, principal: Principal, conversation_id: str | None = None,
               channel: str = "", context: Conversation | None = None) -> Iterator[Event]:
        """Run one turn, yielding events as they happen. Raises Busy (queue full) or ConversationBusy at the
        first `next()`, before anything runs.

        `context` is what the planner knows of the conversation (earlier turns, the inventory); None builds it
        from the conversation's own earlier turns in the checkpoint (clients that send only the last message)."""
        cid = conversation_id or new_conversation_id()
        text = text.strip()
        if not text:
            raise InvalidInput("the request text is empty")
        started = self.admission.enter()
        try:
            with self.conversation_lock(cid):
                waiting = self.waiting_on(cid)
                if waiting:
                    raise ConversationBusy(f"conversation {cid} waits for approval {waiting}; approve or deny it first")
                self._audit_request(text, principal, cid, channel)
                yield Event("turn", {"conversation_id": cid, "request": text,
                                     "principal": {"name": principal.name, "role": principal.role}})
                ctx = context if context is not None else self.checkpoint_context(cid)
                inp: dict[str, Any] = {"request": text, "principal": {"name": principal.name, "role": principal.role},
                       "conversation_id": cid, "steps": [], "call": None, "outcome": None, "stop": None,
                       "stop_detail": "", "planner_text": "", "answer": "",
                       "context": asdict(ctx) if ctx is not None else None}  # plain data in the checkpoint
                yield from self._with_note(self.run_graph(inp, cid), text, ctx)
        finally:
            self.admission.leave(started)

    def decide(self, approval_id: str, principal: Principal, approve: bool, note: str = "") -> Reply:
        """Approve or deny a pending action and resume what waits on it (`ApprovalRouter.decide`)."""
        return self.approvals.decide(approval_id, principal, approve, note)

    def decide_stream(self, approval_id: str, principal: Principal, approve: bool, note: str = "") -> Iterator[Event]:
        """Decide, then yield what resuming produces (`ApprovalRouter.decide_stream`)."""
        return self.approvals.decide_stream(approval_id, principal, approve, note)

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
        """The conversation paused on `approval_id` (`ApprovalRouter.conversation_of`)."""
        return self.approvals.conversation_of(approval_id)

    def runbook_run(self, run_id: str) -> RunRecord | None:
        """A runbook run record by id (None when unknown or no runbook host is attached)."""
        return self.runbooks.engine.store.get(run_id) if self.runbooks is not None else None

    def attach_runbooks(self, host: RunbookHost) -> None:
        """Use `host` (its engine and tool context) for run_runbook calls and for resuming runs on decisions."""
        self.runbooks = host
        self.nodes.runbooks = host

    def on_notify(self, message: dict[str, Any]) -> None:
        """The gate's notification hook: kept for /api/incidents and logged."""
        self.notifications.append(message)
        log.info("notification: %s", message)

    def close(self) -> None:
        if self.runbooks is not None:
            self.runbooks.close()
        self.live.close()

    def checkpoint_context(self, conversation_id: str) -> Conversation | None:
        """The conversation's finished turns (from the checkpoint) as planner context; None for a new one."""
        snap = self.graph.get_state(_config(conversation_id))
        turns = list((snap.values or {}).get("turns") or [])
        if not turns:
            return None
        messages: list[dict[str, Any]] = []
        for t in turns:
            messages += [{"role": "user", "content": str(t.get("request", ""))},
                         {"role": "assistant", "content": str(t.get("answer", ""))}]
        return conversation_from_messages(messages)

    # ------------------------------------------------------------------ internals
    @staticmethod
    def _with_note(events: Iterator[Event], text: str, ctx: Conversation | None) -> Iterator[Event]:
        """Pass events through; before the first planned call on a service taken from the conversation, a `note`
        event says which service that was ("Restarting cartservice (from your previous question).")."""
        noted = False
        for ev in events:
            if not noted and ev.kind == "plan" and ev.data.get("ok", True):
                note = reference_note(text, str(ev.data.get("tool")), ev.data.get("args") or {}, ctx)
                if note:
                    noted = True
                    yield ev
                    yield Event("note", {"conversation_id": ev.data.get("conversation_id"), "text": note})
                    continue
            yield ev

    def run_graph(self, inp: Any, cid: str) -> Iterator[Event]:
        modes: list[StreamMode] = ["custom", "updates"]
        for mode, chunk in self.graph.stream(inp, _config(cid), stream_mode=modes, durability="sync"):
            if mode == "custom":
                custom = cast(dict[str, Any], chunk)
                ev = Event(custom["kind"], {"conversation_id": cid, **custom["data"]})
                if ev.kind == "approval" and ev.data.get("approval_id"):
                    self.approval_threads[ev.data["approval_id"]] = cid
                yield ev
        reply = self.reply(cid)
        if reply.status == "waiting_approval":
            yield Event("paused", {"conversation_id": cid, "text": reply.text, "pending": reply.pending})

    def waiting_on(self, cid: str) -> str | None:
        snap = self.graph.get_state(_config(cid))
        for i in snap.interrupts:
            return str(i.value.get("approval_id"))
        return None

    @contextmanager
    def conversation_lock(self, cid: str) -> Iterator[None]:
        """One turn at a time per conversation. The lock is dropped when no turn holds or waits for it, so the
        map does not grow with every conversation ever seen."""
        with self._locks_guard:
            lock, users = self._conv_locks.get(cid, (threading.Lock(), 0))
            self._conv_locks[cid] = (lock, users + 1)
        try:
            if not lock.acquire(timeout=CONVERSATION_WAIT_S):  # a turn that is just finishing gets to finish
                raise ConversationBusy(f"a turn is already running in conversation {cid}")
            try:
                yield
            finally:
                lock.release()
        finally:
            with self._locks_guard:
                lock, users = self._conv_locks[cid]
                if users <= 1:
                    del self._conv_locks[cid]
                else:
                    self._conv_locks[cid] = (lock, users - 1)

    def _audit_request(self, text: str, principal: Principal, cid: str, channel: str) -> None:
        self.gate.record_request(text, principal, conversation_id=cid, channel=channel)


def new_conversation_id() -> str:
    return "c-" + uuid.uuid4().hex[:12]


def _config(cid: str) -> RunnableConfig:
    return {"configurable": {"thread_id": cid}}
