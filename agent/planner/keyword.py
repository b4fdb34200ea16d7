"""The keyword-router baseline: regular expressions over the request pick a tool and its arguments.

No model: a service is the first one the request names (`tools.resolution.mentions`: names, aliases and
normalised variants of the inventory), a metric the first metric word, numbers and durations are read
with regexes. A write that names no service is not guessed: the planner asks which service
(`runtime.grounded_targets.ask_for_target`). It is the baseline the fine-tuned planner must beat
(`keel eval planner`, method `keyword`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any

from agent.planner.base import PlannedCall, Step, could_not_plan
from agent.planner.validate import check_call
from runtime.conversation import Conversation
from runtime.grounded_targets import ask_for_target, inventory_for
from runtime.summary import template_summary
from tools.contract import WRITE_TOOLS
from tools.inventory import Inventory
from tools.resolution import mentioned
from tools.services import current_inventory

_METRIC_WORDS = [
    ("latency_p50", r"p50|median"), ("latency_p99", r"p99|latency|slow|response time"),
    ("error_rate", r"error rate|errors?|5xx|failing|failure"), ("cpu", r"\bcpu\b"), ("memory", r"memory|\bmem\b|ram"),
    ("throughput", r"throughput|rps|qps|traffic|requests per second"), ("replicas", r"replicas|pods|instances"),
    ("queue_depth", r"queue|backlog"),
]
_RUNBOOKS = {"high-latency": r"high.?latency", "error-spike": r"error.?spike", "memory-leak": r"memory.?leak",
             "traffic-surge": r"traffic.?surge", "bad-deploy": r"bad.?deploy"}
_WINDOW = re.compile(r"(\d+)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hr|hrs|hours?|d|days?)\b")


def find_service(text: str, inventory: Inventory | None = None) -> str | None:
    """The first service of the inventory (default: the current one) that `text` names."""
    named = mentioned(text, inventory or current_inventory())
    return named[0] if named else None


def find_metric(text: str) -> str | None:
    for metric, pattern in _METRIC_WORDS:
        if re.search(pattern, text):
            return metric
    return None


def route(request: str, inventory: Inventory | None = None) -> tuple[str, dict[str, Any]]:
    """(tool, args) chosen by keyword rules."""
    t = request.lower()
    svc = find_service(request, inventory)
    args: dict[str, Any] = {"service": svc} if svc else {}
    win = _WINDOW.search(t)
    if re.search(r"runbook|playbook", t):
        name = next((n for n, p in _RUNBOOKS.items() if re.search(p, t)), None)
        return "run_runbook", {**args, **({"name": name} if name else {})}
    if re.search(r"roll ?back|revert|undo", t):
        return "rollback_deployment", args
    if re.search(r"restart|bounce|reboot", t):
        return "restart_service", args
    if re.search(r"\bscale\b|replicas", t) and (n := re.search(r"\b(\d+)\b", t)) and "should" not in t:
        return "scale_service", {**args, "replicas": int(n.group(1))}
    if re.search(r"recommend|should .*scale|how many replicas should", t):
        return "recommend_scaling", args
    if re.search(r"summary|post .*#|slack", t):
        ch = re.search(r"#[\w-]+", request)
        return "post_incident_summary", {"channel": ch.group(0)} if ch else {}
    if re.search(r"topology|graph|depend|calls|upstream|downstream", t):
        return "get_topology", args
    if re.search(r"\blogs?\b|grep", t):
        q = re.search(r"[\"'`]([^\"'`]+)[\"'`]", request)
        if q:
            args["query"] = q.group(1)
        lv = re.search(r"\b(error|warn|warning|info)\b", t)
        if lv:
            args["level"] = "warn" if lv.group(1).startswith("warn") else lv.group(1)
        if win:
            args["window"] = win.group(0)
        return "search_logs", args
    if re.search(r"\bwhy\b|root cause|rca|what'?s wrong|cause", t):
        return "root_cause_analysis", args
    metric = find_metric(t)
    if metric and svc:
        return "query_metrics", {**args, "metric": metric, **({"window": win.group(0)} if win else {})}
    return "respond", {"text": "I did not understand that."}


class KeywordPlanner:
    name = "keyword"

    def __init__(self) -> None:
        self.calls = self.fallbacks = self.failures = 0

    def plan(self, request: str, history: Sequence[Step] = (),
             context: Conversation | None = None) -> PlannedCall:
        t0 = time.perf_counter()
        self.calls += 1
        inventory = inventory_for(context)
        tool, args = route(request, inventory)
        if tool in WRITE_TOOLS and "service" not in args:
            tool, args = "respond", {"text": ask_for_target(tool, request, inventory)}
        checked = check_call(tool, args)
        ms = (time.perf_counter() - t0) * 1e3
        raw = f"{tool} {args}"
        if not checked.ok:
            self.failures += 1
            return could_not_plan(raw, ms, constrained=False)
        return PlannedCall(checked.tool, checked.args, raw, False, ms, True)

    def summarize(self, findings: dict) -> str:
        return template_summary(findings)
