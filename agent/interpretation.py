"""What a reference to the conversation was taken to mean, said back to the person: "Restarting cartservice
(from your previous question)." when a planned call's service came from an earlier turn, not from the request."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runtime.conversation import Conversation, mentioned_services

_DOING = {
    "restart_service": "Restarting {svc}", "rollback_deployment": "Rolling back {svc}",
    "scale_service": "Scaling {svc} to {replicas} replicas", "run_runbook": "Running the {name} runbook on {svc}",
    "query_metrics": "Checking {metric} of {svc}", "search_logs": "Searching the logs of {svc}",
    "get_topology": "Showing the neighbours of {svc}", "root_cause_analysis": "Analysing {svc}",
    "recommend_scaling": "Asking the scaling policy about {svc}", "check_health": "Checking the health of {svc}",
}


def reference_note(request: str, tool: str, args: Mapping[str, Any], context: Conversation | None) -> str | None:
    """The sentence naming the service a call took from the conversation, or None when the request named it
    (or there is no conversation, or the call has no service)."""
    svc = args.get("service")
    if context is None or not context.earlier or not isinstance(svc, str) or tool not in _DOING:
        return None
    if svc in mentioned_services(request, context.services):
        return None
    last = context.earlier[-1]
    if last.recommendation and f"service={svc}" in last.recommendation:
        source = "the recommendation in my last answer"
    elif last.entity == svc:
        source = "from your previous question"
    elif any(t.entity == svc or svc in t.services for t in context.earlier):
        source = "from earlier in this conversation"
    else:
        return None
    fields = {"svc": svc, "replicas": args.get("replicas", "?"), "name": args.get("name", "?"),
              "metric": args.get("metric", "a metric")}
    return f"{_DOING[tool].format(**fields)} ({source})."
