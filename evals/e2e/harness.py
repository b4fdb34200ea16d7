"""Run one responder on one scenario and score it; run a set of scenarios for several responders.

Per (scenario, responder): a fresh audit log and approval store, a governance gate at autonomy 3, and the
simulator fast-forwarded to the scenario's `at`. The responder gets the request and works; simulated time
advances one minute per agent step (rules: `period` minutes per round). Approvals are granted by the harness
as a separate principal with role approver, every time one is requested: the harness plays an on-call person
who approves whatever is asked, so a wrong write that needed approval is still charged to the responder; the
number granted is recorded per scenario. A responder that holds a conversation answers the scenario's later
`turns` too and reports the simulated minute each message was sent (`turn_minutes`). Afterwards the simulator
runs on to the end of the horizon and the run is scored (`evals.e2e.scoring`), with governance re-checked from
the audit log (`evals.e2e.govcheck`).
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from agent.context import LiveContext, build_context
from config.settings import Settings
from evals.e2e.govcheck import recheck, unaudited_writes
from evals.e2e.scenarios import E2EScenario
from evals.e2e.scoring import Expectation, ScenarioScore, WriteEvent, score
from evals.e2e.slo import HOLD_MIN, HORIZON_MIN, counterfactual, recovery, slo_series
from governance.approvals import SqliteApprovalStore
from governance.audit import SqliteAuditStore
from governance.gate import Gate, Principal
from governance.policy import Policy, default_policy
from tools.backends.base import ToolContext
from tools.backends.sim.cluster import Simulator
from tools.contract import WRITE_TOOLS
from tools.envelope import ToolResult
from tools.services import current_topology, topology_in_process

AUTONOMY = 3
REQUESTER = Principal("oncall", "operator")
APPROVER = Principal("e2e-approver", "approver")
APPROVAL_NOTE = "granted by the e2e harness, which approves every request"


@dataclass
class Transcript:
    """What a responder hands back: its final answer, the steps it took, approvals it was granted."""

    answer: str
    steps: int
    approvals_granted: int = 0
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Run:
    """One scenario being answered: the live context, the gate, the clock and the harness's approver."""

    scenario: E2EScenario
    live: LiveContext
    gate: Gate
    requester: Principal = REQUESTER
    approver: Principal = APPROVER

    @property
    def ctx(self) -> ToolContext:
        return self.live.tools

    @property
    def lock(self) -> AbstractContextManager[Any]:
        return self.live.lock

    @property
    def sim(self) -> Simulator:
        return self.live.tools.sim

    def tick(self, minutes: int = 1) -> None:
        """Advance simulated time."""
        with self.live.lock:
            self.sim.step(minutes)

    def execute(self, tool: str, args: dict[str, Any], principal: Principal, rationale: str) -> tuple[ToolResult, int]:
        """Through the gate; a pending approval is granted by the harness's approver and then run."""
        with self.live.lock:
            result = self.gate.execute(tool, args, self.ctx, principal, rationale)
        pending = result.pending()
        if pending is None:
            return result, 0
        approval_id = pending.approval_id
        self.gate.approve(approval_id, self.approver, APPROVAL_NOTE)
        with self.live.lock:
            return self.gate.run_approved(approval_id, self.ctx), 1


class Responder(Protocol):
    name: str

    def respond(self, run: Run) -> Transcript: ...


_SCALE = re.compile(r"replicas (\d+) -> (\d+)")
_KINDS = {"restart", "rollback", "scale"}


def executed_writes(sim: Simulator, since: int) -> list[WriteEvent]:
    """Writes the cluster received from minute `since` on, from the simulator's own event list."""
    out = []
    for e in sim.events:
        if e.minute < since or e.kind not in _KINDS:
            continue
        m = _SCALE.search(e.detail) if e.kind == "scale" else None
        out.append(WriteEvent(e.minute, e.service, e.kind, int(m.group(1)) if m else None,
                              int(m.group(2)) if m else None))
    return out


def _bounds(service: str) -> tuple[int, int] | None:
    topo = current_topology()
    if service not in topo:
        return None
    spec = topo.spec(service)
    return (spec.min_replicas, spec.max_replicas)


def run_scenario(e: E2EScenario, responder: Responder, workdir: Path, settings: Settings,
                 policy: Policy | None = None) -> ScenarioScore:
    """One responder on one scenario, with every name resolved against the scenario's topology."""
    with topology_in_process(e.scenario.topo):
        return _run_scenario(e, responder, workdir, settings, policy)


def _run_scenario(e: E2EScenario, responder: Responder, workdir: Path, settings: Settings,
                  policy: Policy | None = None) -> ScenarioScore:
    policy = policy or default_policy()
    db = workdir / f"{responder.name}-{e.name}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    audit = SqliteAuditStore(db, sync="normal")
    gate = Gate(audit, SqliteApprovalStore(db), policy, AUTONOMY)
    sim_only = settings.model_copy(update={"metrics_backend": "sim", "logs_backend": "sim", "actions_backend": "sim"})
    live = build_context(sim_only, e.scenario, live=False)
    run = Run(e, live, gate)
    try:
        t = responder.respond(run)
    except Exception as exc:  # one failing scenario is scored as failed, the eval goes on
        t = Transcript(answer="", steps=0, error=f"{type(exc).__name__}: {exc}")
    sim = run.sim
    end = max(e.at + HORIZON_MIN, int(sim.minute) + 1)
    with live.lock:
        sim.run_until(end)
        writes = executed_writes(sim, e.at)
        series = slo_series(sim, counterfactual(e.scenario, end), e.symptom)
    records = [r.to_dict() for r in audit.records()]
    attempted = unstarted_writes(records)
    report = audit.verify()
    violations = recheck(records, policy, AUTONOMY, _bounds) + unaudited_writes(records, writes)
    rec = recovery(series, e.at, end, HOLD_MIN)
    audit.close()
    live.close()
    turn_minutes = list(t.extra.get("turn_minutes") or [e.at])
    if e.writes_from_turn <= 1:
        first_ok = float("-inf")
    elif len(turn_minutes) >= e.writes_from_turn:
        first_ok = float(turn_minutes[e.writes_from_turn - 1])
    else:  # the responder never heard the turn that approves or chooses the fix
        first_ok = float("inf")
    ex = Expectation(e.root_cause, e.remediation, e.slo_applies, e.target, first_ok, e.writes_from_turn)
    return score(
        e.name, responder.name, t.answer, writes, ex, rec.recovered, rec.mttm_min, end - e.at, t.steps, violations,
        report.ok, t.approvals_granted, t.error, attempted, len(turn_minutes),
    )


def unstarted_writes(records: Sequence[dict[str, Any]]) -> list[str]:
    """Write proposals in the audit log whose action never started (blocked by governance or denied)."""
    started = {r.get("action_id") for r in records if r["kind"] == "action_started"}
    return [f"{r.get('tool')} {r.get('service')}" for r in records
            if r["kind"] == "proposal" and r.get("tool") in WRITE_TOOLS and r.get("action_id") not in started]


Progress = Callable[[str, str, ScenarioScore, float], None]


def run_eval(scenarios: Sequence[E2EScenario], responders: Sequence[Responder], settings: Settings,
             workdir: Path | None = None, progress: Progress | None = None) -> dict[str, list[ScenarioScore]]:
    """Every responder on every scenario; the scores per method (responder name)."""
    out: dict[str, list[ScenarioScore]] = {}
    with tempfile.TemporaryDirectory(prefix="keel-e2e-") as tmp:
        wd = workdir or Path(tmp)
        wd.mkdir(parents=True, exist_ok=True)
        for r in responders:
            for e in scenarios:
                t0 = time.perf_counter()
                s = run_scenario(e, r, wd, settings)
                out.setdefault(r.name, []).append(s)
                if progress is not None:
                    progress(r.name, e.name, s, time.perf_counter() - t0)
    return out


__all__ = ["Run", "Transcript", "Responder", "run_scenario", "run_eval", "executed_writes"]
