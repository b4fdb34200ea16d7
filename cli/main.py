"""The `keel` entry point: one typer app with a sub-app per area."""

from __future__ import annotations

import typer

from cli import (
    approvals_cmd,
    audit_cmd,
    bench_cmd,
    chat_cmd,
    demo_cmd,
    doctor_cmd,
    eval_cmd,
    finetune_cmd,
    governance_cmd,
    mcp_cmd,
    runbook_cmd,
    serve_cmd,
    services_cmd,
    sim_cmd,
    tools_cmd,
)

app = typer.Typer(
    help="keel: a local-first ops assistant with a fine-tuned small planner and governed, audited actions.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(tools_cmd.app, name="tools")
app.add_typer(sim_cmd.app, name="sim")
app.add_typer(bench_cmd.app, name="bench")
app.add_typer(audit_cmd.app, name="audit")
app.add_typer(governance_cmd.app, name="governance")
app.add_typer(approvals_cmd.app, name="approvals")
app.add_typer(eval_cmd.app, name="eval")
app.add_typer(finetune_cmd.app, name="finetune")
app.add_typer(runbook_cmd.app, name="runbook")
app.command("demo")(demo_cmd.demo)
app.command("doctor")(doctor_cmd.doctor)
app.command("services")(services_cmd.services)
app.command("serve")(serve_cmd.serve)
app.command("chat")(chat_cmd.chat)
app.command("investigate")(chat_cmd.investigate)
app.command("mcp")(mcp_cmd.mcp)


if __name__ == "__main__":
    app()
