"""`keel eval ...`: evaluations. Each prints a table and writes the documented JSON with --json PATH.

One import and one registration line per eval; the commands live in their own modules.
"""

from __future__ import annotations

import typer

from cli import (
    eval_all_cmd,
    eval_e2e_cmd,
    eval_injection_cmd,
    eval_planner_cmd,
    eval_rca_cmd,
    eval_rca_protocol_cmd,
    eval_scaling_cmd,
    eval_scaling_floor_cmd,
    eval_scaling_frontier_cmd,
    eval_scaling_rollout_cmd,
)

app = typer.Typer(help="Evaluations (planner, RCA, scaling, end-to-end); each prints a table and writes JSON.",
                  no_args_is_help=True)
app.command("e2e")(eval_e2e_cmd.e2e)
app.command("injection")(eval_injection_cmd.injection)
app.command("scaling")(eval_scaling_cmd.scaling)
app.command("scaling-floor")(eval_scaling_floor_cmd.scaling_floor)
app.command("scaling-frontier")(eval_scaling_frontier_cmd.scaling_frontier)
app.command("scaling-rollout")(eval_scaling_rollout_cmd.scaling_rollout)
app.command("all")(eval_all_cmd.run_all)
app.command("planner")(eval_planner_cmd.planner)
app.command("rca")(eval_rca_cmd.rca)
app.command("rca-protocol")(eval_rca_protocol_cmd.rca_protocol)
