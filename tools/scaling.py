"""recommend_scaling: the trained scaling policy's recommendation for a service (never acts)."""

from __future__ import annotations

from tools.backends.base import ToolContext
from tools.contract import RecommendScalingArgs
from tools.envelope import ToolResult


def recommend_scaling(args: RecommendScalingArgs, ctx: ToolContext) -> ToolResult:
    return ToolResult.fail("recommend_scaling is not available yet")
