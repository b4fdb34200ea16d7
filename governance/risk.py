"""`decide(action, context) -> Decision`: risk, oversight, reasons and checks, computed from the policy.

Pure code, no I/O. Inputs are the tool name, its validated arguments, the autonomy level, the principal,
the cluster state the rules need (current replicas and bounds) and the rate-limit history (write actions
already started on the service within the window). Model output never takes part: the rationale's text is
recorded, not read; only its absence matters, and it can only make a decision stricter (approval).

Order of evaluation:
1. risk: read tools are low; a write on a protected service is critical; scale_service is rated by the
   scaling rules (bounded step medium, larger high, to 0 / outside [min, max] critical); other tools by
   the policy's fixed table.
2. oversight: the policy's risk -> oversight row for the autonomy level, raised to the tool kind's minimum.
3. checks, which may only raise oversight: transparency (no rationale on an action -> approval),
   accountability (no principal, or a viewer acting -> blocking), safety (bounds -> critical/blocking;
   the rate limit -> approval).
Critical is blocking at every level, whatever the table says.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from governance.policy import OVERSIGHTS, Oversight, Policy, Risk, ToolKind, default_policy
from tools.contract import TOOLS, canonical_args, validate_call
from tools.durations import format_duration
from tools.services import current_inventory

ACTING_ROLES = frozenset({"operator", "approver", "system"})
ROLES = frozenset({"viewer", "operator", "approver", "system"})


@dataclass(frozen=True)
class Action:
    """One validated tool call: name, canonical arguments, kind (read, notify, write)."""

    tool: str
    args: Mapping[str, Any]
    kind: ToolKind

    @classmethod
    def from_call(cls, tool: str, args: Mapping[str, Any] | None) -> Action:
        """Validate against the contract (raises tools.contract.ContractError) and canonicalise."""
        model = validate_call(tool, dict(args or {}))
        return cls(tool, canonical_args(model), TOOLS[tool].kind)

    @property
    def service(self) -> str | None:
        s = self.args.get("service")
        return s if isinstance(s, str) else None


@dataclass(frozen=True)
class DecisionContext:
    """What the decision may look at besides the action. The gate gathers it; tests build it by hand."""

    autonomy: int = 3
    principal: str = ""
    role: str = "operator"
    rationale: str = ""
    current_replicas: int | None = None
    bounds: tuple[int, int] | None = None  # the backend's replica bounds; the policy's own entry wins
    recent_writes: int = 0  # write actions started on the action's service within the rate-limit window
    approver: str | None = None


@dataclass(frozen=True)
class Check:
    passed: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "detail": self.detail}


@dataclass(frozen=True)
class Decision:
    risk: Risk
    oversight: Oversight
    reasons: tuple[str, ...]
    checks: Mapping[str, Check]
    autonomy: int
    policy_digest: str

    def to_dict(self) -> dict[str, Any]:
        """The documented decision format: {"risk", "oversight", "reasons", "checks"}."""
        return {
            "risk": self.risk,
            "oversight": self.oversight,
            "reasons": list(self.reasons),
            "checks": {k: c.to_dict() for k, c in self.checks.items()},
        }

    def to_record(self) -> dict[str, Any]:
        """The decision as audited: the four keys plus the autonomy level and the policy digest."""
        return {**self.to_dict(), "autonomy": self.autonomy, "policy": self.policy_digest}

    @property
    def runs_without_person(self) -> bool:
        """Logging and notification run at once; approval waits for a person; blocking never runs."""
        return self.oversight in ("logging", "notification")


def _max_oversight(a: Oversight, b: Oversight) -> Oversight:
    return a if OVERSIGHTS.index(a) >= OVERSIGHTS.index(b) else b


@dataclass
class _Work:
    risk: Risk = "low"
    reasons: list[str] = field(default_factory=list)
    bounds_ok: bool = True
    bounds_detail: str = "no replica bounds involved"


def _rate_scale(action: Action, ctx: DecisionContext, policy: Policy, w: _Work) -> None:
    service = action.service or ""
    target = int(action.args["replicas"])
    lo, hi = policy.bounds(service, ctx.bounds)
    current = ctx.current_replicas
    w.bounds_detail = f"target {target} within [{lo}, {hi}] replicas of {service}"
    if target == 0:
        w.risk, w.bounds_ok = "critical", False
        w.bounds_detail = f"scaling {service} to 0 replicas takes it down"
        w.reasons.append(w.bounds_detail)
        return
    if target > hi or target < lo:
        w.risk, w.bounds_ok = "critical", False
        side = "above the maximum" if target > hi else "below the minimum"
        w.bounds_detail = f"target {target} is {side} of [{lo}, {hi}] replicas for {service}"
        w.reasons.append(w.bounds_detail)
        return
    if current is None:
        w.risk = "high"
        w.reasons.append(f"current replicas of {service} unknown: the step cannot be bounded")
        return
    step = abs(target - current)
    allowed = max(policy.max_step_ratio * current, policy.min_step)
    pct = f"{100 * step / current:.0f}%" if current else "from 0"
    if step <= allowed:
        w.risk = "medium"
        w.reasons.append(f"scale {service} {current} -> {target} is a bounded step ({pct}, limit "
                         f"±{100 * policy.max_step_ratio:.0f}% or {policy.min_step} replica)")
    else:
        w.risk = "high"
        w.reasons.append(f"scale {service} {current} -> {target} is a large step ({pct}, limit "
                         f"±{100 * policy.max_step_ratio:.0f}% or {policy.min_step} replica)")


def _rate(action: Action, ctx: DecisionContext, policy: Policy) -> _Work:
    w = _Work()
    service = action.service
    if action.kind == "read":
        w.reasons.append(f"{action.tool} only reads")
        return w
    if service is not None and (service in policy.protected_services or service in current_inventory().protected):
        w.risk = "critical"
        w.reasons.append(f"{service} is a protected service: no {action.kind} action may run on it")
        if action.tool == "scale_service":
            scratch = _Work()
            _rate_scale(action, ctx, policy, scratch)
            w.bounds_ok, w.bounds_detail = scratch.bounds_ok, scratch.bounds_detail
        return w
    if action.tool == "scale_service":
        _rate_scale(action, ctx, policy, w)
        return w
    w.risk = policy.tool_risk[action.tool]
    label = {"run_runbook": "a runbook with write steps"}.get(action.tool, action.tool)
    w.reasons.append(f"{label} is rated {w.risk} risk by the policy")
    return w


def decide(action: Action, context: DecisionContext, policy: Policy | None = None) -> Decision:
    """Rate the action and choose its oversight; every reason and check result is returned."""
    policy = policy or default_policy()
    if context.autonomy not in policy.oversight:
        raise ValueError(f"autonomy: got {context.autonomy!r}; allowed: 0..5")
    level = context.autonomy
    w = _rate(action, context, policy)
    risk = w.risk
    oversight = policy.oversight[level][risk]
    reasons = list(w.reasons)
    reasons.append(f"at autonomy {level}, {risk} risk needs {oversight}")
    floor = policy.kind_minimum[level].get(action.kind)
    if floor is not None and OVERSIGHTS.index(floor) > OVERSIGHTS.index(oversight):
        oversight = floor
        reasons.append(f"at autonomy {level}, every {action.kind} action needs at least {floor}")
    acts = action.kind != "read"

    # transparency: the rationale is recorded; on an action its absence escalates to a person
    rationale = context.rationale.strip()
    if rationale:
        transparency = Check(True, f"rationale recorded ({len(rationale)} chars)")
    elif acts:
        transparency = Check(False, "no rationale given for an action: a person must approve it")
        oversight = _max_oversight(oversight, "approval")
        reasons.append("no rationale recorded: escalated to approval")
    else:
        transparency = Check(False, "no rationale given (read only: logged)")

    # accountability: an owner principal allowed to act; the approver when there is one
    who = context.principal.strip()
    if not who:
        accountability = Check(False, "no principal owns this request")
        oversight = "blocking"
        reasons.append("no owner principal: blocked")
    elif context.role not in ROLES:
        accountability = Check(False, f"unknown role {context.role!r}; allowed: {sorted(ROLES)}")
        oversight = "blocking"
        reasons.append(f"principal {who} has unknown role {context.role!r}: blocked")
    elif acts and context.role not in ACTING_ROLES:
        accountability = Check(False, f"{who} ({context.role}) may not trigger {action.kind} actions")
        oversight = "blocking"
        reasons.append(f"role {context.role} may only read: blocked")
    else:
        detail = f"owner {who} ({context.role})"
        if context.approver:
            detail += f", approved by {context.approver}"
        accountability = Check(True, detail)

    # safety: replica bounds and the per-service rate limit of write actions
    safety_ok = w.bounds_ok
    details = [w.bounds_detail]
    if action.kind == "write" and action.service is not None:
        window = format_duration(policy.rate_limit_window_s)
        used = context.recent_writes
        limit = policy.rate_limit_max_writes
        details.append(f"{used} write action(s) on {action.service} in the last {window} (limit {limit})")
        if used >= limit:
            safety_ok = False
            if OVERSIGHTS.index(oversight) < OVERSIGHTS.index("approval"):
                oversight = "approval"
                reasons.append(f"rate limit: {used} write actions on {action.service} in the last {window} "
                               f"(limit {limit}): escalated to approval")
            else:
                reasons.append(f"rate limit of {limit} writes per {window} on {action.service} reached")
    safety = Check(safety_ok, "; ".join(details))

    if risk == "critical":
        oversight = "blocking"  # whatever the table says (the policy loader also enforces it)
    return Decision(
        risk=risk,
        oversight=oversight,
        reasons=tuple(reasons),
        checks={"transparency": transparency, "accountability": accountability, "safety": safety},
        autonomy=level,
        policy_digest=policy.digest,
    )


def refusal(reason: str, autonomy: int, policy: Policy | None = None, principal: str = "",
            role: str = "operator") -> Decision:
    """The decision on a write that never reaches the rules because its target is not acceptable: a service
    that does not resolve (`unknown_service`, `ambiguous_service`) or one nobody named (an ungrounded
    target). Blocking, with `reason` as the reason."""
    policy = policy or default_policy()
    who = f"owner {principal} ({role})" if principal else "no principal"
    return Decision(
        risk="critical", oversight="blocking", reasons=(reason,),
        checks={"transparency": Check(True, "refused before any rule ran; the reason is recorded"),
                "accountability": Check(bool(principal), who),
                "safety": Check(False, reason)},
        autonomy=autonomy, policy_digest=policy.digest,
    )
