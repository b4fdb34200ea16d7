"""The shared pieces of the phrasing templates (`templates`, `templates_more`): the Template type, the empty
fixed-args dict, and the texts the planner answers with when the right move is to respond."""

from __future__ import annotations

Template = tuple[str, dict[str, object]]

E: dict[str, object] = {}

GREETING = ("Hi! I can check metrics and logs, show the topology, find root causes, and scale, restart or roll "
            "back services.")
THANKS = "You're welcome."
CAPABILITIES = ("I can query metrics, search logs, show the service graph, run root cause analysis, recommend "
                "scaling, scale, restart or roll back services, run runbooks and post incident summaries.")
OFF_TOPIC = "I can only help with operating the services: metrics, logs, topology, root causes and remediation."
WHICH_SERVICE = "Which service do you mean?"
HOW_MANY = "How many replicas should {svc} have?"
