"""`keel runbook list|show|run|resume|runs`: runbooks on the embedded simulator from the command line.

Every step goes through the gate (decided and audited in `$KEEL_HOME`). A run that needs an approval
pauses: decide it with `keel approvals approve ID --as NAME`, then `keel runbook resume RUN_ID` (which
rebuilds the scenario's simulator and replays what the run already did to it).
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from agent.runbooks.engine import RunbookEngine, run_summary
from agent.runbooks.model import Library, RunbookError
from agent.runbooks.replay import replay
from agent.runbooks.store import RunRecord, RunStore
from agent.summary.narrative import LazySummarizer
from cli.common import console, fail, print_json, simulate
from config.settings import get_settings
from governance.gate import Principal, gate_from_settings
from governance.policy import PolicyError
from governance.risk import ROLES

app = typer.Typer(help="Runbooks: list, show, run (or dry-run), resume a paused run.", no_args_is_help=True)


def _engine() -> RunbookEngine:
    settings = get_settings()
    try:
        gate = gate_from_settings(settings)
    except PolicyError as e:
        fail(str(e))
    return RunbookEngine(gate, RunStore(settings.ensure_home() / "runbooks.db"))


def _principal(name: str | None, role: str) -> Principal:
    if role not in ROLES:
        fail(f"--role: got {role!r}; allowed: {', '.join(sorted(ROLES))}")
    return Principal(name or getpass.getuser(), role)  # type: ignore[arg-type]


def _params(pairs: list[str], service: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in pairs:
        key, sep, value = p.partition("=")
        if not sep or not key:
            fail(f"--param: expected KEY=VALUE, got {p!r}")
        out[key.strip()] = value.strip()
    if service is not None:
        out["service"] = service
    return out


def _print_run(run: RunRecord) -> None:
    table = Table("step", "tool", "status", "oversight", "args / note", "audit", title=f"{run.runbook} run {run.id}")
    for s in run.steps:
        detail = json.dumps(s.args) if s.args else s.note
        if s.error and s.status != "skipped":
            detail = f"{detail}  [red]{s.error}[/]"
        table.add_row(s.id, s.tool or "wait", s.status, s.oversight or "", detail or "",
                      ",".join(map(str, s.audit_ids)))
    console.print(table)
    console.print(f"status: [bold]{run.status}[/]" + (f" ({run.reason})" if run.reason else ""))
    if run.pending is not None:
        console.print(f"approve with: keel approvals approve {run.pending.approval_id} --as NAME\n"
                      f"then:         keel runbook resume {run.id}")


def _finish(run: RunRecord, as_json: bool) -> None:
    if as_json:
        print_json(run_summary(run))
    else:
        _print_run(run)
    if run.status == "failed":
        raise typer.Exit(1)


@app.command("list")
def list_runbooks(as_json: bool = typer.Option(False, "--json")) -> None:
    """The runbooks with their descriptions and parameters."""
    lib = Library()
    if as_json:
        print_json([{"name": n, "description": lib.get(n).description, "parameters": list(lib.get(n).parameters)}
                    for n in lib.names()])
        return
    table = Table("runbook", "parameters", "description")
    for n in lib.names():
        rb = lib.get(n)
        table.add_row(n, ", ".join(f"{k}{'' if p.required else '?'}" for k, p in rb.parameters.items()),
                      rb.description)
    console.print(table)


@app.command("show")
def show(name: str = typer.Argument(..., help="runbook name"), as_json: bool = typer.Option(False, "--json")) -> None:
    """A runbook's parameters and steps."""
    try:
        rb = Library().get(name)
    except RunbookError as e:
        fail(str(e))
    if as_json:
        print_json(rb.model_dump(exclude_defaults=True))
        return
    console.print(f"[bold]{rb.name}[/]: {rb.description}")
    params = Table("parameter", "type", "default", "description")
    for k, p in rb.parameters.items():
        params.add_row(k, p.type, "required" if p.required else str(p.default), p.description)
    console.print(params)
    steps = Table("step", "tool", "arguments", "when", "on failure")
    for s in rb.steps:
        steps.add_row(s.id, s.tool or f"wait {s.wait}", json.dumps(s.args) if s.args else "", s.when or "",
                      s.on_failure)
    console.print(steps)


@app.command("run")
def run(
    name: str = typer.Argument(..., help="runbook name"),
    service: str | None = typer.Option(None, "--service", "-s", help="the service (the runbook's service parameter)"),
    param: list[str] = typer.Option([], "--param", "-p", help="another parameter as KEY=VALUE (repeatable)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="print the plan and each step's oversight; run nothing"),
    scenario: Path | None = typer.Option(None, help="scenario file for the embedded simulator"),
    at: int | None = typer.Option(None, help="simulated minute to start at (default: the scenario's `at`, else 60)"),
    who: str | None = typer.Option(None, "--as", help="the requesting principal (default: your user name)"),
    role: str = typer.Option("operator", help="the requesting principal's role"),
    as_json: bool = typer.Option(False, "--json", help="print the plan or run record as JSON"),
) -> None:
    """Run a runbook against the simulator: every step governed and audited; approvals pause the run."""
    principal = _principal(who, role)
    params = _params(param, service)
    engine = _engine()
    try:
        engine.library.get(name)
    except RunbookError as e:
        fail(str(e))
    _, sim, ctx = simulate(scenario, at)
    try:
        if dry_run:
            plan = engine.plan(name, params, principal, ctx)
            if as_json:
                print_json(plan)
                return
            table = Table("#", "step", "tool", "arguments", "when", "risk", "oversight", "decided",
                          title=f"dry run: {name} ({principal.name}, {principal.role}, autonomy {plan['autonomy']})")
            for s in plan["steps"]:
                table.add_row(str(s["n"]), s["id"], s.get("tool") or f"wait {s.get('wait')}",
                              json.dumps(s.get("args", "")), s.get("when", ""), str(s.get("risk")),
                              str(s.get("oversight")), str(s.get("decided", "")))
            console.print(table)
            console.print("nothing was run.")
            return
        ctx = ctx.with_deps(summarizer=LazySummarizer(get_settings().planner, get_settings().planner_adapter))
        context = {"backend": "sim", "scenario": str(scenario.resolve()) if scenario else None, "at": sim.minute}
        record = engine.start(name, params, principal, ctx, context)
    except RunbookError as e:
        fail(str(e))
    _finish(record, as_json)


@app.command("resume")
def resume(
    run_id: str = typer.Argument(..., help="the run id printed when it paused"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Continue a paused run once its approval is decided (rebuilds and replays the run's simulator)."""
    engine = _engine()
    try:
        record = engine.get_run(run_id)
    except RunbookError as e:
        fail(str(e))
    if record.context.get("backend") != "sim":
        fail(f"run {run_id} was started by the server; resume it there: POST /api/runbooks/runs/{run_id}/resume")
    if record.status != "paused":
        _finish(record, as_json)
        return
    path = record.context.get("scenario")
    _, sim, ctx = simulate(Path(path) if path else None, int(record.context["at"]))
    replay(sim, record)
    ctx = ctx.with_deps(summarizer=LazySummarizer(get_settings().planner, get_settings().planner_adapter))
    _finish(engine.resume(run_id, ctx), as_json)


@app.command("runs")
def runs(status: str | None = typer.Option(None, help="paused, running, succeeded, completed_with_failures, failed"),
         limit: int = typer.Option(20, min=1, max=1000)) -> None:
    """Recent runs, newest first."""
    table = Table("run", "runbook", "status", "service", "reason")
    for r in _engine().store.list(status, limit):
        table.add_row(r.id, r.runbook, r.status, str(r.params.get("service")), r.reason or "")
    console.print(table)
