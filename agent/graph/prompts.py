"""Fixed texts the agent says and the rationale it records; the planner's own prompt lives in agent/planner/."""

from __future__ import annotations

STOP_TEXT = {
    "step_limit": "I stopped at the step limit before the investigation was complete; ask again to go on.",
    "repeat": "The planner proposed {tool} with the same arguments again, so I stopped instead of repeating it.",
    "plan_failed": "I could not plan a valid next step for this request ({detail}).",
}

NO_FINDINGS = "I have no tool results for this request yet, so I cannot answer it from data."

DENIED_BY_PERSON = "denied by {who}{note}"

RATIONALE = "planner proposal {n} for: {request}"


def rationale(n: int, request: str) -> str:
    """The rationale recorded with a proposal (transparency): which request and which step it serves."""
    return RATIONALE.format(n=n, request=request[:200])
