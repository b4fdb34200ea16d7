"""Write tools: scale_service, restart_service, rollback_deployment. Callers govern them first."""

from __future__ import annotations

from tools.backends.base import ToolContext
from tools.contract import RestartServiceArgs, RollbackDeploymentArgs, ScaleServiceArgs
from tools.envelope import ToolResult
from tools.results import RestartOutcome, RollbackOutcome, ScaleOutcome


def scale_service(args: ScaleServiceArgs, ctx: ToolContext) -> ToolResult:
    return ToolResult.ok(ScaleOutcome.model_validate(ctx.actions.scale(args.service, args.replicas)))


def restart_service(args: RestartServiceArgs, ctx: ToolContext) -> ToolResult:
    return ToolResult.ok(RestartOutcome.model_validate(ctx.actions.restart(args.service)))


def rollback_deployment(args: RollbackDeploymentArgs, ctx: ToolContext) -> ToolResult:
    return ToolResult.ok(RollbackOutcome.model_validate(ctx.actions.rollback(args.service)))
