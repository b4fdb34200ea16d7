"""`keel tools list|call`: the tool contract from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from cli.common import (
    EXIT_BAD_INPUT,
    TOPOLOGY_HELP,
    chosen_topology,
    console,
    err_console,
    fail,
    print_json,
    simulate,
)
from tools.contract import TOOLS, catalogue
from tools.registry import call_tool, contract_failure

app = typer.Typer(help="List and call the tools of the contract.", no_args_is_help=True)


@app.command("list")
def list_tools(as_json: bool = typer.Option(False, "--json", help="print names, kinds and JSON Schemas")) -> None:
    """List the tools of the contract with their kind and arguments."""
    if as_json:
        print_json(catalogue())
        return
    table = Table("tool", "kind", "arguments", "description")
    for item in catalogue():
        props = item["parameters"].get("properties", {})
        required = set(item["parameters"].get("required", []))
        args = ", ".join(f"{k}{'' if k in required else '?'}" for k in props)
        table.add_row(item["name"], item["kind"], args, item["description"])
    console.print(table)


@app.command("call")
def call(
    name: str = typer.Argument(..., help=f"tool name: {', '.join(TOOLS)}"),
    args: str = typer.Argument("{}", help='arguments as a JSON object, e.g. \'{"service":"checkout"}\''),
    scenario: Path | None = typer.Option(None, help="scenario file (YAML/JSON) for the embedded simulator"),
    at: int | None = typer.Option(
        None, help="simulated minute to call the tool at (default: scenario's `at`, else 60)"
    ),
    rationale: str = typer.Option("requested with keel tools call", help="why (recorded with write actions)"),
    topology: str | None = typer.Option(None, "--topology", help=TOPOLOGY_HELP),
) -> None:
    """Call one tool on the embedded simulator and print its result envelope as JSON.

    Write and notify tools go through governance (principal `cli`, role operator, autonomy from the
    settings): they may run, wait for approval (the approval id is printed) or be denied; all is audited.
    Service names resolve against the topology's inventory: a read may use a near-variant (the envelope's
    `resolved` says which name it used); a write needs an exact, alias or normalised match, else the
    result is `unknown_service` / `ambiguous_service` with the closest names and nothing runs.
    Exits 0 on status ok/no_data/pending_approval, 2 on bad input, 1 on errors and denials.
    """
    try:
        parsed = json.loads(args)
    except json.JSONDecodeError as e:
        print_json({"status": "error", "data": None, "error": f"args: malformed JSON: {e}"})
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if name not in TOOLS:
        print_json({"status": "error", "data": None, "error": f"unknown tool {name!r}; allowed: {', '.join(TOOLS)}"})
        raise typer.Exit(EXIT_BAD_INPUT)
    _, _, ctx = simulate(scenario, at, chosen_topology(topology))
    from tools.contract import ContractError, validate_call

    try:
        validate_call(name, parsed)
    except ContractError as e:
        if TOOLS[name].kind == "write" and e.code in ("unknown_service", "ambiguous_service"):
            from governance.gate import Principal, gate_from_settings

            # governance records the refused write (a proposal and a blocking decision with the reason)
            refused = gate_from_settings().execute(name, parsed, ctx, Principal("cli", "operator"), rationale)
            print_json(refused.to_dict())
        else:
            print_json(contract_failure(name, parsed, e).to_dict())
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if TOOLS[name].kind == "read":
        result = call_tool(name, parsed, ctx)
    else:
        from governance.gate import Principal, gate_from_settings

        result = gate_from_settings().execute(name, parsed, ctx, Principal("cli", "operator"), rationale)
    print_json(result.to_dict())
    pending = result.pending()
    if pending is not None:
        err_console.print(f"pending approval {pending.approval_id}: "
                          f"keel approvals approve {pending.approval_id} --as NAME")
    if result.status in ("error", "denied"):
        raise typer.Exit(1)


__all__ = ["app", "fail"]
