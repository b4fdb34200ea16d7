"""The gate: the one path every tool call takes, from the agent, a runbook or a person.

`Gate.execute` validates the call, gathers what the decision needs (cluster state, rate-limit history),
decides with `governance.risk.decide`, writes the audit records and then runs, parks or refuses:
- logging / notification: proposal + decision + action_started in one durable transaction, the
  notification (if any), the tool, then action_result;
- approval: proposal + decision, a pending approval (its id is the action id), `pending_approval`;
- blocking: proposal + decision, `denied` with the reasons.
Read tools are decided and audited too, cheaply: after they run, proposal + decision + action_result
(a digest of the data) go in one non-fsynced transaction, and no action_started (nothing to undo).

Approvals: only role `approver` may approve or deny. Nobody approves their own request above the
policy's `approvals.self_approval_max_risk` (default medium: a high-risk request needs a second person);
critical requests are blocked before an approval exists. Denying one's own request is allowed (it
withdraws it). `run_approved` re-decides against the current cluster state (a request that has become
critical is refused), claims the approval once and runs it; the approval id is the idempotency key.

The model's output never takes part in a decision; see `governance.risk`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import time
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

from pydantic import BaseModel

from governance.approvals import Approval, ApprovalError, ApprovalStore
from governance.audit import AuditStore
from governance.chain import NewRecord, canonical_json
from governance.policy import RISKS, Policy, load_policy
from governance.risk import Action, Decision, DecisionContext, decide, refusal
from tools.backends.base import ToolContext
from tools.backends.sim_backend import sim_replica_state
from tools.contract import TOOLS, WRITE_TOOLS, ContractError, canonical_args, validate_call
from tools.envelope import ToolResult
from tools.external import WRITE_RISK, validate_external
from tools.registry import contract_failure, run_validated, with_resolution
from tools.results import PendingApproval
from tools.services import current_inventory

log = logging.getLogger(__name__)

Role = Literal["viewer", "operator", "approver", "system"]
MAX_RESULT_BYTES = 16_000


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role


@dataclass(frozen=True)
class Governed:
    """A governed call's result and the decision taken on it (None when the call never reached a decision)."""

    result: ToolResult
    decision: Decision | None = None


def _digest(result: ToolResult, full: bool) -> dict[str, Any]:
    """What the audit keeps of a result: all of it for actions (when small), a digest for reads."""
    payload = canonical_json(json.loads(json.dumps(result.data, default=str)))  # plain JSON, whatever the tool gave
    out: dict[str, Any] = {"status": result.status, "error": result.error}
    if full and len(payload) <= MAX_RESULT_BYTES:
        out["data"] = json.loads(payload)
    else:
        out["data_sha256"] = hashlib.sha256(payload.encode()).hexdigest()
        out["data_bytes"] = len(payload)
    return out


class Gate:
    def __init__(self, audit: AuditStore, approvals: ApprovalStore, policy: Policy, autonomy: int = 3,
                 notify: Callable[[dict[str, Any]], None] | None = None, *, approval_ttl_minutes: float = 30.0,
                 clock: Callable[[], float] = time.time) -> None:
        if autonomy not in range(6):
            raise ValueError(f"autonomy: got {autonomy!r}; allowed: 0..5")
        self.audit = audit
        self.approvals = approvals
        self.policy = policy
        self.autonomy = autonomy
        self.notify = notify
        self.approval_ttl_s = approval_ttl_minutes * 60
        self.clock = clock

    # ------------------------------------------------------------------ context and decision

    def context(self, action: Action, ctx: ToolContext | None, principal: Principal, rationale: str,
                approver: str | None = None) -> DecisionContext:
        """Gather what `decide` may look at: replicas and bounds (scale_service), rate-limit history (writes)."""
        return gather_context(action, ctx, principal, rationale, self.autonomy, self.policy, self.audit,
                              self.clock(), approver)

    def explain(self, tool: str, args: Mapping[str, Any], ctx: ToolContext | None, principal: Principal,
                rationale: str) -> Decision:
        """The decision `execute` would take now, without recording or running anything."""
        _, action, policy = self._resolve(tool, args, ctx)
        return decide(action, self.context(action, ctx, principal, rationale), policy)

    def _resolve(self, tool: str, args: Mapping[str, Any], ctx: ToolContext | None) -> tuple[BaseModel, Action,
                                                                                            Policy]:
        """Validate a call (ContractError if it does not) into its model, action and the policy it is decided
        under: a contract tool under the policy; an operator's external tool (`server.tool`) as a read, or, when
        marked write, as a high-risk write (`tools.external`)."""
        external = ctx.deps.external if ctx is not None and tool not in TOOLS else None
        spec = external.get(tool) if external is not None else None
        if spec is None:
            model = validate_call(tool, dict(args))
            return model, Action(tool, canonical_args(model), TOOLS[tool].kind), self.policy
        call = validate_external(spec, dict(args))
        policy = self.policy
        if spec.kind == "write":
            policy = replace(policy, tool_risk={**policy.tool_risk, tool: WRITE_RISK})
        return call, Action(tool, call.args, spec.kind), policy

    # ------------------------------------------------------------------ execute

    def execute(self, tool: str, args: Mapping[str, Any], ctx: ToolContext, principal: Principal, rationale: str,
                conversation_id: str | None = None, run_id: str | None = None) -> ToolResult:
        """Validate, decide, audit, then run / park for approval / refuse. Never raises."""
        return self.govern(tool, args, ctx, principal, rationale, conversation_id, run_id).result

    def govern(self, tool: str, args: Mapping[str, Any], ctx: ToolContext, principal: Principal, rationale: str,
               conversation_id: str | None = None, run_id: str | None = None) -> Governed:
        """`execute`, returning the decision with the result: the call is validated once and decided once.
        The decision is None when the call did not validate or governance failed before deciding."""
        try:
            model, action, policy = self._resolve(tool, args, ctx)
        except ContractError as e:
            failed = contract_failure(tool, dict(args), e)
            if tool in WRITE_TOOLS and e.code in ("unknown_service", "ambiguous_service"):
                decision = self.refuse(tool, dict(args), principal, rationale, f"{e.code}: {e}", conversation_id)
                return Governed(failed, decision)
            return Governed(failed)
        action_id = uuid.uuid4().hex
        try:
            decision = decide(action, self.context(action, ctx, principal, rationale), policy)
            if action.kind == "read":
                return Governed(with_resolution(self._execute_read(
                    action, decision, model, ctx, principal, rationale, conversation_id, action_id), tool, args),
                    decision)
        except (sqlite3.Error, OSError) as e:
            log.exception("audit store failed")
            return Governed(ToolResult.fail(f"audit log unavailable ({tool}): {e}", code="audit_unavailable"))
        except Exception as e:
            log.exception("gate failed")
            return Governed(ToolResult.fail(f"governance failed on {tool}: {type(e).__name__}: {e}", code="internal"))
        return Governed(self._execute_write(action, decision, model, ctx, principal, rationale, conversation_id,
                                            action_id, run_id), decision)

    def refuse(self, tool: str, args: Mapping[str, Any], principal: Principal, rationale: str, reason: str,
               conversation_id: str | None = None) -> Decision:
        """Record a write refused before it was decided (an unknown service, a target nobody named): a proposal
        and a blocking decision with `reason`, and no action records. Returns the decision."""
        service = args.get("service")
        action = Action(tool, dict(args), TOOLS[tool].kind if tool in TOOLS else "write")
        decision = refusal(reason, self.autonomy, self.policy, principal.name, principal.role)
        rec = _Recorder(action, uuid.uuid4().hex, principal, conversation_id)
        try:
            self.audit.append_many([
                rec.make("proposal", {"args": dict(args), "rationale": rationale, "role": principal.role,
                                      "kind": action.kind, "service_asked": service}),
                rec.decision(decision, refused=True)])
        except (sqlite3.Error, OSError):
            log.exception("could not record the refusal of %s", tool)
        return decision

    def _execute_write(self, action: Action, decision: Decision, model: BaseModel, ctx: ToolContext,
                       principal: Principal, rationale: str, conversation_id: str | None,
                       action_id: str, run_id: str | None) -> ToolResult:
        tool = action.tool
        rec = _Recorder(action, action_id, principal, conversation_id)
        proposal = rec.make("proposal", {"args": dict(action.args), "rationale": rationale,
                                         "role": principal.role, "kind": action.kind})
        try:
            if decision.runs_without_person:
                self.audit.append_many([proposal, rec.decision(decision), rec.make("action_started", {
                    "args": dict(action.args), "oversight": decision.oversight})])
                if decision.oversight == "notification":
                    self._notify({"event": "notification", **self._summary(action, action_id, decision,
                                                                            principal, conversation_id)}, rec)
                return self._run(action, model, ctx, rec)
            if decision.oversight == "approval":
                now = self.clock()
                self.audit.append_many([proposal, rec.decision(decision, approval_id=action_id)])
                approval = self.approvals.create(Approval(
                    id=action_id, tool=tool, args=dict(action.args), risk=decision.risk,
                    oversight=decision.oversight, reasons=decision.reasons, requested_by=principal.name,
                    requested_role=principal.role, rationale=rationale, created_at=now,
                    expires_at=now + self.approval_ttl_s, service=action.service,
                    conversation_id=conversation_id, run_id=run_id,
                ))
                summary = self._summary(action, action_id, decision, principal, conversation_id)
                self._notify({"event": "approval_requested", "approval_id": approval.id,
                              "expires_at": approval.expires_at, **summary}, rec)
                return ToolResult.waiting(PendingApproval(
                    approval_id=approval.id, tool=tool, args=dict(action.args), risk=decision.risk,
                    oversight=decision.oversight, reasons=list(decision.reasons), expires_at=approval.expires_at,
                ))
            self.audit.append_many([proposal, rec.decision(decision)])
            return ToolResult(status="denied", error="; ".join(decision.reasons), data=decision.to_dict())
        except (sqlite3.Error, OSError) as e:
            log.exception("audit store failed")
            return ToolResult.fail(f"audit log unavailable, {tool} not run: {e}", code="audit_unavailable")
        except Exception as e:  # never raise into the agent; nothing below runs a tool without its record
            log.exception("gate failed")
            return ToolResult.fail(f"governance failed on {tool}: {type(e).__name__}: {e}", code="internal")

    def _execute_read(self, action: Action, decision: Decision, model: BaseModel, ctx: ToolContext,
                      principal: Principal, rationale: str, conversation_id: str | None,
                      action_id: str) -> ToolResult:
        rec = _Recorder(action, action_id, principal, conversation_id)
        proposal = rec.make("proposal", {"args": dict(action.args), "rationale": rationale,
                                         "role": principal.role, "kind": action.kind})
        if not decision.runs_without_person:
            self.audit.append_many([proposal, rec.decision(decision)], durable=False)
            return ToolResult(status="denied", error="; ".join(decision.reasons), data=decision.to_dict())
        result = run_validated(action.tool, model, ctx)
        self.audit.append_many([proposal, rec.decision(decision), rec.make("action_result", _digest(result, False))],
                               durable=False)
        return result

    def _run(self, action: Action, model: Any, ctx: ToolContext, rec: _Recorder) -> ToolResult:
        """Run after action_started is durable; record the result. The result is returned even if that fails."""
        result = run_validated(action.tool, model, ctx)
        try:
            self.audit.append(rec.make("action_result", _digest(result, True)))
        except Exception:  # the action ran: its result goes back; verify will list it as incomplete
            log.exception("could not record the result of %s %s", action.tool, rec.action_id)
        return result

    def _summary(self, action: Action, action_id: str, decision: Decision, principal: Principal,
                 conversation_id: str | None) -> dict[str, Any]:
        return {"action_id": action_id, "tool": action.tool, "args": dict(action.args), "risk": decision.risk,
                "oversight": decision.oversight, "reasons": list(decision.reasons),
                "principal": principal.name, "role": principal.role, "conversation_id": conversation_id}

    def _notify(self, event: dict[str, Any], rec: _Recorder) -> None:
        if self.notify is None:
            return
        try:
            self.notify(event)
        except Exception as e:  # a failing channel is recorded; it does not stop or undo the action
            log.exception("notification failed")
            try:
                self.audit.append(rec.make("error", {"stage": "notify", "event": event.get("event"),
                                                     "error": f"{type(e).__name__}: {e}"}))
            except Exception:
                log.exception("could not record the notification failure")

    # ------------------------------------------------------------------ approvals

    def expire_due(self) -> list[Approval]:
        """Expire overdue pending approvals and audit each expiry."""
        expired = self.approvals.expire_due(self.clock())
        if expired:
            self.audit.append_many([NewRecord(
                "expiry", {"approval_id": a.id, "expires_at": a.expires_at, "requested_by": a.requested_by},
                actor="keel", conversation_id=a.conversation_id, action_id=a.id, tool=a.tool, service=a.service,
            ) for a in expired])
        return expired

    def pending(self) -> list[Approval]:
        self.expire_due()
        return self.approvals.list("pending")

    def _may_decide(self, approval_id: str, approver: Principal, verb: str) -> Approval:
        if approver.role != "approver":
            raise ApprovalError("forbidden", f"{approver.name or '(anonymous)'} has role {approver.role}; "
                                             f"only role approver may {verb} (allowed roles: approver)")
        if not approver.name.strip():
            raise ApprovalError("forbidden", f"an approver must be named to {verb}")
        self.expire_due()
        a = self.approvals.get(approval_id)
        if a is None:
            raise ApprovalError("not_found", f"no approval {approval_id!r}")
        return a

    def approve(self, approval_id: str, approver: Principal, note: str = "") -> Approval:
        a = self._may_decide(approval_id, approver, "approve")
        if approver.name == a.requested_by and not self._self_approval_allowed(a.risk):
            raise ApprovalError("self_approval", f"{approver.name} requested this {a.risk}-risk action and may not "
                                                 f"approve it; another approver must")
        return self._decide(a, "approved", approver, note)

    def deny(self, approval_id: str, approver: Principal, note: str = "") -> Approval:
        return self._decide(self._may_decide(approval_id, approver, "deny"), "denied", approver, note)

    def _self_approval_allowed(self, risk: str) -> bool:
        cap = self.policy.self_approval_max_risk
        return risk != "critical" and cap is not None and RISKS.index(risk) <= RISKS.index(cap)

    def _decide(self, a: Approval, status: Literal["approved", "denied"], approver: Principal, note: str) -> Approval:
        try:
            decided = self.approvals.decide(a.id, status, approver.name, approver.role, note, self.clock())
        except ApprovalError as e:
            if e.code == "expired":
                self.expire_due()
            raise
        self.audit.append(NewRecord(
            "approval" if status == "approved" else "denial",
            {"approval_id": a.id, "approver": approver.name, "role": approver.role, "note": note,
             "requested_by": a.requested_by, "risk": a.risk, "args": dict(a.args)},
            actor=approver.name, conversation_id=a.conversation_id, action_id=a.id, tool=a.tool, service=a.service,
        ))
        return decided

    def run_approved(self, approval_id: str, ctx: ToolContext) -> ToolResult:
        """Run an approved action exactly once; a second call returns the recorded result. Never raises."""
        try:
            self.expire_due()
            a = self.approvals.get(approval_id)
            if a is None:
                return ToolResult(status="denied", error=f"no approval {approval_id!r}")
            if a.result is not None:
                return ToolResult.model_validate(a.result)
            if a.status != "approved":
                return ToolResult(status="denied", data={"approval_id": approval_id, "status": a.status},
                                  error=f"approval {approval_id} is {a.status}: the action does not run")
            model, action, policy = self._resolve(a.tool, a.args, ctx)
            requester = Principal(a.requested_by, a.requested_role)  # type: ignore[arg-type]
            decision = decide(action, self.context(action, ctx, requester, a.rationale, approver=a.decided_by),
                              policy)
            rec = _Recorder(action, a.id, requester, a.conversation_id)
            if decision.oversight == "blocking":
                self.audit.append(rec.decision(decision, approval_id=a.id, recheck=True))
                return ToolResult(status="denied", error="re-checked before running: " + "; ".join(decision.reasons),
                                  data=decision.to_dict())
            if not self.approvals.claim(a.id, self.clock()):
                again = self.approvals.get(a.id)
                if again is not None and again.result is not None:
                    return ToolResult.model_validate(again.result)
                return ToolResult.fail(f"approval {a.id} is already running or was interrupted; "
                                       f"see audit action {a.id}", code="approval_conflict")
            self.audit.append_many([
                rec.decision(decision, approval_id=a.id, recheck=True),
                rec.make("action_started", {"args": dict(action.args), "approval_id": a.id,
                                            "approved_by": a.decided_by}),
            ])
            result = self._run(action, model, ctx, rec)
            self.approvals.record_result(a.id, result.to_dict())
            return result
        except ContractError as e:
            return ToolResult.fail(f"stored approval {approval_id} no longer validates: {e}", code="approval_conflict")
        except (sqlite3.Error, OSError) as e:
            log.exception("governance store failed")
            return ToolResult.fail(f"governance store unavailable, approval {approval_id} not run: {e}",
                                   code="audit_unavailable")

    # ------------------------------------------------------------------ records for the layers above

    def record_request(self, text: str, principal: Principal, conversation_id: str | None = None,
                       channel: str = "") -> None:
        """Audit an incoming request (a chat message, a slash command, a runbook execution request)."""
        self.audit.append(NewRecord("request", {"text": text, "role": principal.role, "channel": channel},
                                    actor=principal.name, conversation_id=conversation_id))

    def record_error(self, message: str, principal: Principal, conversation_id: str | None = None,
                     **details: Any) -> None:
        self.audit.append(NewRecord("error", {"error": message, **details}, actor=principal.name,
                                    conversation_id=conversation_id))


@dataclass(frozen=True)
class _Recorder:
    """Builds the records of one action with its common fields filled in."""

    action: Action
    action_id: str
    principal: Principal
    conversation_id: str | None

    def make(self, kind: Any, data: Mapping[str, Any]) -> NewRecord:
        return NewRecord(kind, data, actor=self.principal.name, conversation_id=self.conversation_id,
                         action_id=self.action_id, tool=self.action.tool, service=self.action.service)

    def decision(self, d: Decision, **extra: Any) -> NewRecord:
        return self.make("decision", {**d.to_record(), **extra})


class ActionHistory(Protocol):
    def count_actions(self, service: str, since: float, tools: Collection[str]) -> int: ...


def gather_context(action: Action, ctx: ToolContext | None, principal: Principal, rationale: str, autonomy: int,
                   policy: Policy, history: ActionHistory | None, now: float,
                   approver: str | None = None) -> DecisionContext:
    """The decision's inputs besides the action: current replicas and bounds (scale_service only) and
    the write actions already started on the service within the rate-limit window (writes only)."""
    current, bounds = None, None
    service = action.service
    if action.tool == "scale_service" and service is not None and ctx is not None:
        current, bounds = current_replicas(ctx, service)
    if action.tool == "scale_service" and service is not None and bounds is None:
        bounds = current_inventory().bounds(service)  # discovered bounds: an HPA's, keel.toml's
    recent = 0
    if action.kind == "write" and service is not None and history is not None:
        recent = history.count_actions(service, now - policy.rate_limit_window_s, WRITE_TOOLS)
    return DecisionContext(
        autonomy=autonomy, principal=principal.name, role=principal.role, rationale=rationale,
        current_replicas=current, bounds=bounds, recent_writes=recent, approver=approver,
    )


def current_replicas(ctx: ToolContext, service: str) -> tuple[int | None, tuple[int, int] | None]:
    """(current replicas, backend bounds): the simulator's state and specs, else a replicas metrics read."""
    if ctx.sim is not None:
        return sim_replica_state(ctx.sim, service)
    try:
        points = ctx.metrics.series(service, "replicas", 300)
    except Exception:  # unknown replicas make the step unbounded (high risk); the reason says so
        log.warning("could not read the replicas of %s", service, exc_info=True)
        return None, None
    return (int(round(points[-1].value)) if points else None), None


def gate_from_settings(settings: Any = None, notify: Callable[[dict[str, Any]], None] | None = None,
                       autonomy: int | None = None) -> Gate:
    """A gate over the stores (SQLite under KEEL_HOME, or PostgreSQL when `database_url` says so) and the
    policy named by the settings (KEEL_* / keel.toml)."""
    if settings is None:
        from config.settings import get_settings

        settings = get_settings()
    from governance.stores import open_stores

    audit, approvals = open_stores(settings)
    return Gate(
        audit,
        approvals,
        load_policy(settings.policy_file, settings.policy),
        settings.autonomy if autonomy is None else autonomy,
        notify,
        approval_ttl_minutes=settings.approval_ttl_minutes,
    )
