"""`keel approvals list|approve|deny`: decide pending actions from the command line."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.table import Table

from cli.common import console, fail, print_json, simulate
from governance.approvals import STATUSES, ApprovalError
from governance.gate import Gate, Principal, gate_from_settings
from governance.policy import PolicyError
from governance.risk import ROLES

app = typer.Typer(help="Pending approvals: list, approve, deny.", no_args_is_help=True)


def _gate() -> Gate:
    try:
        return gate_from_settings()
    except PolicyError as e:
        fail(str(e))


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S") if ts else ""


def _principal(name: str, role: str) -> Principal:
    if role not in ROLES:
        fail(f"--role: got {role!r}; allowed: {', '.join(sorted(ROLES))}")
    return Principal(name, role)  # type: ignore[arg-type]


@app.command("list")
def list_approvals(
    status: str = typer.Option("pending", help=f"one of {', '.join(STATUSES)}, or all"),
    limit: int = typer.Option(50, min=1, max=10_000),
    as_json: bool = typer.Option(False, "--json", help="print the approvals as JSON"),
) -> None:
    """List approvals, newest first (overdue pending ones are expired first)."""
    if status != "all" and status not in STATUSES:
        fail(f"--status: got {status!r}; allowed: {', '.join(STATUSES)}, all")
    gate = _gate()
    gate.expire_due()
    items = gate.approvals.list(None if status == "all" else status, limit)  # type: ignore[arg-type]
    if as_json:
        print_json([a.to_dict() for a in items])
        return
    table = Table("id", "status", "tool", "args", "risk", "requested by", "expires (UTC)", "decided by")
    for a in items:
        args = ", ".join(f"{k}={v}" for k, v in a.args.items())
        table.add_row(a.id, a.status, a.tool, args, a.risk, a.requested_by, _when(a.expires_at), a.decided_by or "")
    console.print(table)


@app.command("approve")
def approve(
    approval_id: str = typer.Argument(..., help="the id printed with the pending_approval result"),
    name: str = typer.Option(..., "--as", help="the approver's name (not the requester's, above medium risk)"),
    role: str = typer.Option("approver", help="the approver's role (only approver may approve)"),
    note: str = typer.Option("", help="a note kept with the decision"),
    run: bool = typer.Option(False, "--run", help="then run the approved action on the scenario's simulator"),
    scenario: Path | None = typer.Option(None, help="scenario file for --run"),
    at: int | None = typer.Option(None, help="simulated minute for --run"),
) -> None:
    """Approve a pending action; with --run, run it (once) and print its result envelope."""
    gate = _gate()
    try:
        a = gate.approve(approval_id, _principal(name, role), note)
    except ApprovalError as e:
        fail(f"{e.code}: {e}", 1)
    console.print(f"approved {a.id} ({a.tool} {dict(a.args)}) by {a.decided_by}")
    if run:
        _, _, ctx = simulate(scenario, at)
        result = gate.run_approved(a.id, ctx)
        print_json(result.to_dict())
        if result.status not in ("ok", "no_data"):
            raise typer.Exit(1)


@app.command("deny")
def deny(
    approval_id: str = typer.Argument(...),
    name: str = typer.Option(..., "--as", help="the approver's name"),
    role: str = typer.Option("approver", help="the approver's role (only approver may deny)"),
    note: str = typer.Option("", help="why"),
) -> None:
    """Deny a pending action; it will never run."""
    gate = _gate()
    try:
        a = gate.deny(approval_id, _principal(name, role), note)
    except ApprovalError as e:
        fail(f"{e.code}: {e}", 1)
    console.print(f"denied {a.id} ({a.tool} {dict(a.args)}) by {a.decided_by}")
