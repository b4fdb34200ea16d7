"""recommend_scaling: the scaling policy's recommended replica count for a service (never acts).

The policy itself lives with its training (`finetune.policy.recommend.PolicyAdvisor`); the composition root
puts it into the tool context's deps (`ctx.deps.scaling`), so this package does not depend on training code.
"""

from __future__ import annotations

from tools.backends.base import ToolContext
from tools.contract import RecommendScalingArgs
from tools.envelope import ToolResult


def recommend_scaling(args: RecommendScalingArgs, ctx: ToolContext) -> ToolResult:
    advisor = ctx.deps.scaling
    if advisor is None:
        return ToolResult.fail("recommend_scaling needs the scaling policy in the tool context (ctx.deps.scaling = "
                               "finetune.policy.recommend.PolicyAdvisor()); none is set", code="not_configured")
    return advisor.recommend(args.service, ctx)
