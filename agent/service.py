"""AgentService: one per process. Runs conversation turns through the graph and resumes paused ones.

It holds the planner, the gate, the checkpointer, the live tool context and the runbook host. Channels
(HTTP, web page, CLI, Slack, the runbook engine) call `ask`, `stream` and `decide`; nothing else touches
the graph. `decide` takes any pending approval: one a conversation waits on resumes that conversation; one
only a runbook run waits on (a run started by `/api/runbooks`, Slack, or a resumed run's later step) is
decided through the gate and the run is resumed at once.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

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

if TYPE_CHECKING:
    from agent.runbooks.host import RunbookHost
    from agent.runbooks.store import RunRecord
    from governance.approvals import Approval

log = logging.getLogger(__name__)

__all__ = ["AgentService", "Busy", "ConversationBusy", "UnknownApproval", "build_service"]


CONVERSATION_WAIT_S = 10.0  # how long a new turn waits for the conversation's running turn to end


class ConversationBusy(RuntimeError):
    """A turn is already running in this conversation, or it waits for an approval."""


class UnknownApproval(KeyError):
    """No such approval, or the conversation that asked for it no longer waits for it."""


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
        """Approve or deny a pending action (the gate checks the role), then resume what waits on it: its
        conversation (the Reply is the conversation's), else its runbook run (the Reply describes the run)."""
        cid, decided = None, None
        for ev in self.decide_stream(approval_id, principal, approve, note):
            cid = ev.data.get("conversation_id", cid)
            decided = ev if ev.kind == "decision" else decided
        if decided is not None:
            return Reply(**decided.data["reply"])
        return self.reply(cid or self.conversation_of(approval_id))

    def decide_stream(self, approval_id: str, principal: Principal, approve: bool, note: str = "") -> Iterator[Event]:
        """Decide, then yield what resuming produces. Unknown approval id -> UnknownApproval. No conversation
        waits on it -> one `decision` event (its data: approval_id, approved, by, conversation_id, text, run,
        reply) after resuming the runbook run that waits on it, if any."""
        approval = self.gate.approvals.get(approval_id)
        if approval is None:
            raise UnknownApproval(f"no approval {approval_id!r}")
        cid = self._approval_threads.get(approval_id) or self._approval_conversation(approval_id)
        if cid is None or self._waiting_on(cid) != approval_id:
            yield self._decide_detached(approval, principal, approve, note)
            return
        principal, note = self._record_decision(approval, principal, approve, note)
        with self._conversation(cid):
            if self._waiting_on(cid) != approval_id:
                raise UnknownApproval(f"conversation {cid} no longer waits for approval {approval_id}")
            yield Event("turn", {"conversation_id": cid, "approval_id": approval_id, "approved": approve,
                                 "by": principal.name})
            resume = {"approved": approve, "by": principal.name, "note": note}
            yield from self._run(Command(resume=resume), cid)
        self._approval_threads.pop(approval_id, None)  # decided: the approval store still knows its conversation

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

    def _approval_conversation(self, approval_id: str) -> str | None:
        """The conversation recorded with the approval; for a runbook step's approval (its conversation id is
        the run id) the conversation that started the run, if one did."""
        approval = self.gate.approvals.get(approval_id)
        cid = approval.conversation_id if approval is not None else None
        if cid and cid.startswith("rb-"):
            run = self.runbook_run(cid)
            return run.context.get("conversation_id") if run is not None else None
        return cid

    def _record_decision(self, approval: Approval, principal: Principal, approve: bool, note: str,
                         waited_on: bool = True) -> tuple[Principal, str]:
        """Decide through the gate (role, self-approval and expiry checks; audited). An approval something
        still waits on, already decided the same way (CLI, Slack), is taken as it stands, with its approver
        and note; deciding it again when nothing waits on it is the gate's `already_decided` error."""
        wanted = "approved" if approve else "denied"
        if waited_on and approval.status == wanted and principal.role == "approver":
            return Principal(approval.decided_by or principal.name, principal.role), note or approval.note
        if approve:
            self.gate.approve(approval.id, principal, note)
        else:
            self.gate.deny(approval.id, principal, note)
        return principal, note

    def _decide_detached(self, approval: Approval, principal: Principal, approve: bool, note: str) -> Event:
        """Decide an approval no conversation waits on; resume the runbook run that waits on it at once (the
        watcher would otherwise pick it up on its next sweep). A run started by `keel runbook run` replays
        its own simulator, so it is left for `keel runbook resume`."""
        from agent.runbooks.engine import run_summary
        from agent.runbooks.replies import decision_reply

        cid = approval.conversation_id or ""
        record = self.runbook_run(cid) if cid.startswith("rb-") else None
        waits = record is not None and record.pending is not None and record.pending.approval_id == approval.id
        principal, note = self._record_decision(approval, principal, approve, note, waited_on=waits)
        run, extra = None, ""
        if record is not None and record.context.get("backend") == "sim":
            extra = f"Runbook run {record.id} was started by `keel runbook run`; continue it with " \
                    f"`keel runbook resume {record.id}`."
        elif record is not None and self.runbooks is not None:
            run = self.runbooks.engine.resume(record.id, self.runbooks.ctx())
        elif cid.startswith("rb-"):
            extra = f"No runbook engine in this process resumes run {cid}."
        else:
            extra = "No conversation or runbook run waits on it."
        reply = decision_reply(self.gate.approvals.get(approval.id) or approval, approve, principal.name, run, extra)
        return Event("decision", {"conversation_id": reply.conversation_id, "approval_id": approval.id,
                                  "approved": approve, "by": principal.name, "text": reply.text,
                                  "run": run_summary(run) if run is not None else None,
                                  "reply": reply.to_dict()})


def new_conversation_id() -> str:
    return "c-" + uuid.uuid4().hex[:12]


def _config(cid: str) -> RunnableConfig:
    return {"configurable": {"thread_id": cid}}


def planner_from_settings(settings: Settings) -> Planner:
    """The planner the settings name. A missing adapter file is a FileNotFoundError that says how to fix it."""
    from agent.planner import load_planner, resolve_adapter

    if settings.planner != "keyword":
        try:
            resolve_adapter(settings.planner_adapter)
        except FileNotFoundError:
            raise FileNotFoundError(
                f"the planner adapter {settings.planner_adapter!r} was not found (looked for "
                f"{_adapter_path(settings.planner_adapter)}). Train it with `keel finetune slm`, or set "
                "KEEL_PLANNER_ADAPTER=none to run the base model with few-shot examples "
                "(planner_adapter = \"none\" in keel.toml).") from None
    return load_planner(settings.planner, adapter=settings.planner_adapter)


def _adapter_path(adapter: str | None) -> Path:
    from agent.planner import default_adapter

    return default_adapter() if adapter == "default" else Path(str(adapter))


def build_service(settings: Settings, scenario: Scenario | str | Path | None = None, *, planner: Planner | None = None,
                  context: LiveContext | None = None, live: bool = True) -> AgentService:
    """The process's service from settings: planner, gate (SQLite audit and approvals), SQLite checkpoints,
    and the tool context (`context`, else `build_context`: the embedded simulator running `scenario`)."""
    from agent.checkpoint import checkpointer_from_settings
    from governance.gate import gate_from_settings

    settings.ensure_home()
    if planner is None:
        planner = planner_from_settings(settings)
    ctx = context or build_context(settings, scenario, live=live)
    holder: list[AgentService] = []
    gate = gate_from_settings(settings, notify=lambda m: holder[0].on_notify(m) if holder else None)
    saver = checkpointer_from_settings(settings)
    service = AgentService(planner, gate, ctx, saver, step_limit=settings.step_limit, queue_size=settings.queue_size)
    holder.append(service)
    from agent.runbooks.host import service_host

    service.attach_runbooks(service_host(service, settings))
    return service
