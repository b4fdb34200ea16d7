"""The runbook engine: parameter checks, dry-run plans, governed execution, pause on approval, resume.

Every tool step goes through `Gate.execute` with the run as rationale and the run id as conversation id,
so each step is decided and audited like any other action; the step's risk, oversight and audit record
numbers are read back from the audit log. A step that needs approval pauses the run; the run record is
saved after every step (`RunStore`), so `resume` continues it after the approval is decided, also in a
new process. A failed step (status error or denied) stops the run unless its `on_failure` says
`continue` or names a later step to jump to.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from pathlib import Path
from typing import Any

from agent.runbooks.model import Library, Runbook, RunbookError, StepSpec, validate_params
from agent.runbooks.plan import plan as dry_run_plan
from agent.runbooks.store import FINISHED, RunRecord, RunStore, StepRecord
from agent.runbooks.template import TemplateError, render, truthy
from governance.gate import Gate, Principal
from tools.backends.base import ToolContext
from tools.durations import parse_duration
from tools.envelope import ToolResult
from tools.results import PendingApproval, RunbookRun

log = logging.getLogger(__name__)
FAILED = ("error", "denied")


def principal_of(run: RunRecord) -> Principal:
    return Principal(name=run.principal["name"], role=run.principal["role"])  # type: ignore[arg-type]


class RunbookEngine:
    """Runs runbooks of a `Library` through a `Gate`, keeping records in a `RunStore`."""

    def __init__(self, gate: Gate, store: RunStore, library: Library | None = None) -> None:
        self.gate = gate
        self.store = store
        self.library = library or Library()
        self._cond = threading.Condition()
        self._running: set[str] = set()

    @classmethod
    def from_home(cls, gate: Gate, home: Path, library: Library | None = None) -> RunbookEngine:
        return cls(gate, RunStore(Path(home) / "runbooks.db"), library)

    # ------------------------------------------------------------------ reading
    def describe(self, name: str) -> dict[str, Any]:
        rb = self.library.get(name)
        return {
            "name": rb.name, "description": rb.description, "source": rb.source,
            "parameters": {k: p.model_dump(exclude_none=True) for k, p in rb.parameters.items()},
            "steps": [s.model_dump(exclude_defaults=True) for s in rb.steps],
        }

    def get_run(self, run_id: str) -> RunRecord:
        run = self.store.get(run_id)
        if run is None:
            raise RunbookError(f"unknown run {run_id!r}")
        return run

    # ------------------------------------------------------------------ dry run
    # ------------------------------------------------------------------ dry run
    def plan(self, name: str, params: dict[str, Any], principal: Principal,
             ctx: ToolContext | None = None) -> dict[str, Any]:
        """What a run would do and each step's oversight now; nothing runs, nothing is recorded."""
        return dry_run_plan(self.gate, self.library, name, params, principal, ctx)

    # ------------------------------------------------------------------ running
    def start(self, name: str, params: dict[str, Any], principal: Principal, ctx: ToolContext,
              context: dict[str, Any] | None = None) -> RunRecord:
        """Validate, record the request, and run until the end, a failure, or a step waiting for approval."""
        return self.execute(self.create(name, params, principal, context).id, ctx)

    def create(self, name: str, params: dict[str, Any], principal: Principal,
               context: dict[str, Any] | None = None) -> RunRecord:
        """Validate the parameters, save a new run (status running, nothing done yet), audit the request."""
        rb = self.library.get(name)
        values = validate_params(rb, params)
        run = RunRecord.new(rb.name, values, {"name": principal.name, "role": principal.role}, context)
        self.store.save(run)
        self.gate.record_request(f"run runbook {rb.name} with {values}", principal, run.id, channel="runbook")
        return run

    def execute(self, run_id: str, ctx: ToolContext) -> RunRecord:
        """Run a created run from its cursor (a new run, or one interrupted before it finished a step)."""
        with self._claim(run_id):
            run = self.get_run(run_id)
            if run.status != "running":
                return run
            return self._advance(run, self.library.get(run.runbook), ctx)

    def resume(self, run_id: str, ctx: ToolContext) -> RunRecord:
        """Continue a paused run once its approval is decided; still pending -> the run stays paused."""
        self.get_run(run_id)  # an unknown run is an error, not a wait
        with self._claim(run_id):  # another thread advancing it here: wait for it, then see where it stands
            run = self.get_run(run_id)
            step = run.pending
            if run.status != "paused" or step is None or step.approval_id is None:
                return run
            self.gate.expire_due()
            approval = self.gate.approvals.get(step.approval_id)
            if approval is None or approval.status == "pending":
                return run
            if not self.store.claim_paused(run.id):
                return self.get_run(run_id)
            rb = self.library.get(run.runbook)
            spec = rb.steps[run.cursor]
            run.status = "running"
            step.action_id = step.approval_id
            if approval.status == "approved":
                with _locked(ctx):
                    result = self.gate.run_approved(step.approval_id, self._step_ctx(ctx, run, rb, spec))
                step.approved_by = approval.decided_by
                self._fill(step, result, keep_governance=True)
            else:
                by = f" by {approval.decided_by}" if approval.decided_by else ""
                note = f": {approval.note}" if approval.note else ""
                step.status, step.error = "denied", f"approval {approval.id} was {approval.status}{by}{note}"
            step.audit_ids = sorted({r.seq for r in self.gate.audit.records_for_action(step.approval_id)})
            step.finished_at = time.time()
            if step.status in FAILED and not self._on_failure(run, rb, spec, step):
                return run
            if step.status not in FAILED:
                run.cursor += 1
            self.store.save(run)
            return self._advance(run, rb, ctx)

    def resume_for_approval(self, approval_id: str, ctx: ToolContext) -> RunRecord | None:
        """Resume the run waiting on `approval_id`, if one is (call after an approval is decided)."""
        run = self.store.by_approval(approval_id)
        return self.resume(run.id, ctx) if run else None

    def bind(self, principal: Principal, context: dict[str, Any] | None = None) -> BoundRunbooks:
        """The engine for the `run_runbook` tool, acting as `principal`; `context` is kept on each run it
        starts (the agent puts its conversation id there, so a run's approvals lead back to the conversation)."""
        return BoundRunbooks(self, principal, context)

    # ------------------------------------------------------------------ internals
    def _claim(self, run_id: str) -> _Claim:
        return _Claim(self, run_id)

    def _advance(self, run: RunRecord, rb: Runbook, ctx: ToolContext) -> RunRecord:
        principal = principal_of(run)
        while run.cursor < len(rb.steps):
            spec = rb.steps[run.cursor]
            env = {"params": run.params, "run": {"id": run.id, "runbook": run.runbook},
                   "steps": {s.id: s.view() for s in run.steps}}
            step = StepRecord(id=spec.id, kind=spec.kind, tool=spec.tool, started_at=time.time(), minute=_minute(ctx))
            run.steps.append(step)
            go = True
            if spec.when:
                try:
                    go = truthy(spec.when, env)
                except TemplateError as e:
                    step.status, step.error = "error", f"when: {e}"
            if step.status == "error":
                pass
            elif not go:
                step.status, step.note = "skipped", f"condition false: {spec.when}"
            elif spec.wait:
                seconds = parse_duration(spec.wait)
                self._wait(seconds, ctx)
                step.status, step.note = "ok", f"waited {spec.wait}"
                step.data = {"waited_s": seconds}
            else:
                self._run_tool(run, rb, spec, step, env, ctx, principal)
            step.finished_at = time.time()
            if step.status == "pending_approval":
                run.status = "paused"
                run.reason = f"step {spec.id} ({spec.tool}) waits for approval {step.approval_id}"
                self.store.save(run)
                return run
            if step.status in FAILED:
                if not self._on_failure(run, rb, spec, step):
                    return run
            else:
                run.cursor += 1
            self.store.save(run)
        failed = [s for s in run.steps if s.status in FAILED]
        run.status = "completed_with_failures" if failed else "succeeded"
        run.reason = ("; ".join(f"step {s.id} {s.status}: {s.error}" for s in failed)) if failed else None
        self.store.save(run)
        return run

    def _run_tool(self, run: RunRecord, rb: Runbook, spec: StepSpec, step: StepRecord, env: dict[str, Any],
                  ctx: ToolContext, principal: Principal) -> None:
        try:
            args = render(spec.args, env)
        except TemplateError as e:
            step.status, step.error = "error", f"args: {e}"
            return
        step.args = args
        seq0 = self.gate.audit.head()[0]
        with _locked(ctx):
            result = self.gate.execute(spec.tool or "", args, self._step_ctx(ctx, run, rb, spec), principal,
                                       self._rationale(rb, run.id, spec), conversation_id=run.id, run_id=run.id)
        self._fill(step, result)
        self._read_audit(step, run.id, seq0)

    def _read_audit(self, step: StepRecord, run_id: str, seq0: int) -> None:
        """Risk, oversight, reasons and record numbers of the step, from the records the gate just wrote."""
        seqs, action_id = [], None
        for r in self.gate.audit.records(after_seq=seq0):
            if r.conversation_id != run_id or r.tool != step.tool:
                continue
            seqs.append(r.seq)
            action_id = r.action_id or action_id
            if r.kind == "decision" and step.oversight is None:
                d = r.data
                step.risk, step.oversight = d.get("risk"), d.get("oversight")
                step.reasons = list(d.get("reasons") or [])
        step.audit_ids = seqs
        step.action_id = action_id

    @staticmethod
    def _fill(step: StepRecord, result: ToolResult, keep_governance: bool = False) -> None:
        step.status, step.error = result.status, result.error
        data = result.data
        if result.status in ("pending_approval", "denied") and isinstance(data, dict):
            if not keep_governance:
                step.risk, step.oversight = data.get("risk"), data.get("oversight")
                step.reasons = list(data.get("reasons") or [])
            step.approval_id = data.get("approval_id", step.approval_id)
        step.data = data if result.status not in ("pending_approval",) else None

    def _on_failure(self, run: RunRecord, rb: Runbook, spec: StepSpec, step: StepRecord) -> bool:
        """Apply the step's on_failure. False: the run stopped (saved as failed)."""
        why = f"step {spec.id} ({spec.tool or 'wait'}) {step.status}: {step.error}"
        if spec.on_failure == "stop":
            run.status, run.reason = "failed", why
            self.store.save(run)
            try:
                self.gate.record_error(f"runbook {run.runbook} run {run.id} stopped: {why}", principal_of(run), run.id,
                                       runbook=run.runbook, step=spec.id, status=step.status)
            except Exception:  # the run record already holds the reason
                log.warning("could not audit the failure of run %s", run.id, exc_info=True)
            return False
        if spec.on_failure == "continue":
            step.note = (step.note + " failed; on_failure: continue").strip()
            run.cursor += 1
            return True
        target = rb.step_index(spec.on_failure)
        step.note = (step.note + f" failed; on_failure: jump to {spec.on_failure}").strip()
        for skipped in rb.steps[run.cursor + 1:target]:
            run.steps.append(StepRecord(id=skipped.id, kind=skipped.kind, tool=skipped.tool, status="skipped",
                                        note=f"skipped: step {spec.id} failed and jumped to {spec.on_failure}"))
        run.cursor = target
        return True

    def _step_ctx(self, ctx: ToolContext, run: RunRecord, rb: Runbook, spec: StepSpec) -> ToolContext:
        """A per-step copy of the context; a summary step gets the run's findings as the incident."""
        if spec.tool == "post_incident_summary":
            from agent.summary.findings import findings_from_run

            return ctx.with_deps(runbook_run=run.id, incident=findings_from_run(run))
        return ctx.with_deps(runbook_run=run.id)

    @staticmethod
    def _rationale(rb: Runbook, run_id: str, spec: StepSpec) -> str:
        what = f": {spec.description}" if spec.description else ""
        return f"runbook {rb.name} (run {run_id}) step {spec.id}{what}"

    @staticmethod
    def _wait(seconds: int, ctx: ToolContext) -> None:
        """Let time pass: the host's waiter if it gave one, simulated minutes on the simulator, else sleep."""
        waiter = ctx.deps.wait
        if waiter is not None:
            waiter(seconds)
        elif ctx.sim is not None:
            ctx.sim.step(max(1, seconds // 60))
        else:
            time.sleep(seconds)


def _locked(ctx: ToolContext) -> Any:
    """The host's context lock (held around each governed call, as the agent does), if it has one."""
    return ctx.deps.lock if ctx.deps.lock is not None else contextlib.nullcontext()


def _minute(ctx: ToolContext) -> int | None:
    return int(ctx.sim.minute) if ctx.sim is not None else None


class _Claim:
    """At most one thread advances a run at a time within this process; a second one waits for the first
    to finish (and then finds the run no longer paused)."""

    def __init__(self, engine: RunbookEngine, run_id: str) -> None:
        self.engine, self.run_id = engine, run_id

    def __enter__(self) -> None:
        with self.engine._cond:
            self.engine._cond.wait_for(lambda: self.run_id not in self.engine._running)
            self.engine._running.add(self.run_id)

    def __exit__(self, *exc: object) -> None:
        with self.engine._cond:
            self.engine._running.discard(self.run_id)
            self.engine._cond.notify_all()


class BoundRunbooks:
    """The engine bound to the calling principal: what the `run_runbook` tool finds in `ctx.deps.runbooks`."""

    def __init__(self, engine: RunbookEngine, principal: Principal, context: dict[str, Any] | None = None) -> None:
        self.engine, self.principal, self.context = engine, principal, dict(context or {})

    def run(self, name: str, service: str, ctx: ToolContext) -> ToolResult:
        try:
            run = self.engine.start(name, {"service": service}, self.principal, ctx, self.context)
        except RunbookError as e:
            return ToolResult.fail(str(e), code="invalid_args")
        return run_envelope(run)


def run_summary(run: RunRecord) -> dict[str, Any]:
    """A compact view of a run for tool results and CLI output."""
    return {
        "run_id": run.id, "runbook": run.runbook, "status": run.status, "reason": run.reason, "params": run.params,
        "steps": [{"id": s.id, "tool": s.tool, "status": s.status, "args": s.args, "oversight": s.oversight,
                   "error": s.error, "approval_id": s.approval_id, "audit_ids": s.audit_ids} for s in run.steps],
    }


def run_envelope(run: RunRecord) -> ToolResult:
    """A run as a tool result: ok when it finished, pending_approval when paused, error when it failed."""
    summary = run_summary(run)
    if run.status == "paused" and run.pending is not None:
        p = run.pending
        return ToolResult.waiting(PendingApproval(
            approval_id=str(p.approval_id), tool=p.tool, args=p.args, risk=p.risk, oversight=p.oversight,
            reasons=list(p.reasons), run_id=run.id, runbook=run.runbook, run=summary))
    if run.status == "failed":
        return ToolResult.fail(f"runbook {run.runbook} (run {run.id}) stopped: {run.reason}", data=summary,
                               code="run_failed")
    if run.status not in FINISHED:
        return ToolResult.fail(f"runbook {run.runbook} (run {run.id}) is {run.status}", data=summary,
                               code="run_failed")
    return ToolResult.ok(RunbookRun.model_validate(summary))
