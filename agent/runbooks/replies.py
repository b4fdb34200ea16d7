"""A decided approval that no conversation waits on, as the agent's `Reply`: what was decided and, when a
runbook run waited on it, where the run stands now (its steps in the graph's step shape, the next pending
approval), so every channel that shows Replies (HTTP, the web page, Slack) can show it too."""

from __future__ import annotations

from typing import Any

from agent.graph import Reply
from agent.graph.render import args_text, result_text
from agent.runbooks.store import RunRecord
from governance.approvals import Approval


def run_steps(run: RunRecord) -> list[dict[str, Any]]:
    """The run's tool steps as agent step records (tool, args, oversight, result envelope, summary)."""
    out = []
    for s in run.steps:
        if s.kind != "tool" or not s.tool or s.status == "skipped":
            continue
        result = {"status": s.status, "data": s.data, "error": s.error}
        out.append({"tool": s.tool, "args": dict(s.args or {}), "risk": s.risk, "oversight": s.oversight,
                    "reasons": list(s.reasons), "approval_id": s.approval_id, "approved_by": s.approved_by,
                    "result": result, "summary": "waiting for approval" if s.status == "pending_approval"
                    else result_text(s.tool, result), "run_id": run.id, "step": s.id})
    return out


def run_pending(run: RunRecord) -> list[dict[str, Any]]:
    p = run.pending
    if p is None:
        return []
    return [{"approval_id": p.approval_id, "tool": p.tool, "args": dict(p.args or {}), "risk": p.risk,
             "oversight": p.oversight, "reasons": list(p.reasons), "run_id": run.id, "runbook": run.runbook}]


def decision_text(approval: Approval, approved: bool, by: str, run: RunRecord | None, note: str = "") -> str:
    """One paragraph: the decision, then the run's state (or that nothing waited on the approval)."""
    verb = "approved" if approved else "denied"
    head = f"Approval {approval.id} ({approval.tool}({args_text(approval.args)})) {verb} by {by}."
    if run is None:
        return head + f" {note}".rstrip()
    where = f"Runbook {run.runbook} run {run.id}"
    if run.pending is not None:
        p = run.pending
        return (f"{head} {where} continued and now waits for approval {p.approval_id} "
                f"({p.tool}({args_text(p.args or {})}), {p.risk} risk).")
    if run.status == "running":
        return f"{head} {where} is being resumed; see /api/runbooks/runs/{run.id}."
    reason = f": {run.reason}" if run.reason else ""
    return f"{head} {where} {run.status.replace('_', ' ')}{reason}."


def decision_reply(approval: Approval, approved: bool, by: str, run: RunRecord | None, note: str = "") -> Reply:
    """The Reply for a decision taken outside any conversation (its id: the run's, else the approval's)."""
    text = decision_text(approval, approved, by, run, note)
    if run is None:
        return Reply(approval.conversation_id or approval.id, "answered", text)
    pending = run_pending(run)
    return Reply(run.id, "waiting_approval" if pending else "answered", text, run_steps(run), pending)
