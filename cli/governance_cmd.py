"""`keel governance explain|policy`: the decision a tool call would get, and the policy in force."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from cli.common import console, fail, print_json, simulate
from config.settings import get_settings
from governance.audit import AuditStore, SqliteAuditStore
from governance.gate import Principal, gather_context
from governance.policy import Policy, PolicyError, load_policy
from governance.risk import ROLES, Action, decide
from governance.stores import is_postgres, open_stores
from tools.contract import TOOLS, ContractError

app = typer.Typer(help="Governance: risk, oversight and the policy, from the command line.", no_args_is_help=True)


def policy_from_settings() -> Policy:
    s = get_settings()
    try:
        return load_policy(s.policy_file, s.policy)
    except PolicyError as e:
        fail(str(e))


@app.command("explain")
def explain(
    tool: str = typer.Argument(..., help=f"tool name: {', '.join(TOOLS)}"),
    args: str = typer.Argument("{}", help='arguments as a JSON object, e.g. \'{"service":"cart","replicas":3}\''),
    autonomy: int | None = typer.Option(None, min=0, max=5, help="autonomy level 0..5 (default: settings)"),
    as_json: bool = typer.Option(False, "--json", help='print {"risk", "oversight", "reasons", "checks"}'),
    principal: str = typer.Option("cli", help="who asks"),
    role: str = typer.Option("operator", help=f"their role: {', '.join(sorted(ROLES))}"),
    rationale: str = typer.Option("keel governance explain (command line)", help="the rationale to record"),
    scenario: Path | None = typer.Option(None, help="scenario whose cluster state (replicas) the rules see"),
    at: int | None = typer.Option(None, help="simulated minute of that state (default: scenario's `at`, else 60)"),
) -> None:
    """Print the decision the gate would take for TOOL ARGS now, and why. Records and runs nothing.

    The rate-limit history comes from the audit log the settings name (SQLite or PostgreSQL), if any.
    """
    try:
        parsed = json.loads(args)
    except json.JSONDecodeError as e:
        fail(f"args: malformed JSON: {e}")
    if role not in ROLES:
        fail(f"--role: got {role!r}; allowed: {', '.join(sorted(ROLES))}")
    try:
        action = Action.from_call(tool, parsed)
    except ContractError as e:
        fail(str(e))
    settings = get_settings()
    policy = policy_from_settings()
    level = settings.autonomy if autonomy is None else autonomy
    _, _, ctx = simulate(scenario, at)
    db = settings.audit_db_path()
    history: AuditStore | None = None
    if is_postgres((settings.database_url or "").strip()):
        history = open_stores(settings)[0]
    elif db.is_file():
        history = SqliteAuditStore(db, sync=settings.audit_sync)
    try:
        who = Principal(principal, role)  # type: ignore[arg-type]
        context = gather_context(action, ctx, who, rationale, level, policy, history, time.time())
    finally:
        if history is not None:
            history.close()
    decision = decide(action, context, policy)
    if as_json:
        print_json(decision.to_dict())
        return
    _print(tool, action.args, decision.to_dict(), level, policy)


def _print(tool: str, args: Any, d: dict[str, Any], level: int, policy: Policy) -> None:
    colour = {"logging": "green", "notification": "cyan", "approval": "yellow", "blocking": "red"}[d["oversight"]]
    console.print(f"[bold]{tool}[/] {json.dumps(dict(args))}  at autonomy {level} (policy {policy.digest})")
    console.print(f"risk [bold]{d['risk']}[/] -> oversight [bold {colour}]{d['oversight']}[/]")
    for r in d["reasons"]:
        console.print(f"  - {r}")
    table = Table("check", "passed", "detail")
    for name, c in d["checks"].items():
        table.add_row(name, "yes" if c["passed"] else "[red]no[/]", c["detail"])
    console.print(table)


@app.command("policy")
def show_policy(as_json: bool = typer.Option(False, "--json", help="print the oversight table as JSON")) -> None:
    """Show the policy in force: where it came from and risk -> oversight at each autonomy level."""
    policy = policy_from_settings()
    if as_json:
        print_json({"source": policy.source, "digest": policy.digest,
                    "oversight": {str(k): dict(v) for k, v in policy.oversight.items()},
                    "kind_minimum": {str(k): dict(v) for k, v in policy.kind_minimum.items()},
                    "protected_services": sorted(policy.protected_services),
                    "rate_limit": {"max_writes": policy.rate_limit_max_writes,
                                   "window_s": policy.rate_limit_window_s}})
        return
    table = Table("autonomy", "low", "medium", "high", "critical", "at least (by kind)",
                  title=f"policy {policy.digest} ({policy.source})")
    for level, row in policy.oversight.items():
        floor = ", ".join(f"{k}: {v}" for k, v in policy.kind_minimum[level].items())
        table.add_row(str(level), row["low"], row["medium"], row["high"], row["critical"], floor)
    console.print(table)
    console.print(f"protected services: {', '.join(sorted(policy.protected_services)) or 'none'}; "
                  f"rate limit {policy.rate_limit_max_writes} writes per service per {policy.rate_limit_window_s}s")

