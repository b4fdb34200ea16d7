"""Test doubles for the agent tests: a scripted planner (keyword rules) and a service factory over it.

Shipped code never uses these; they stand in for the SLM so graph and HTTP tests are fast and exact.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agent.composition import build_service
from agent.context import build_context
from agent.planner.base import PlannedCall, Step
from agent.service import AgentService
from config.settings import Settings
from runtime.conversation import Conversation
from tools.services import resolve_service

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "evals" / "scenarios"
PAYMENT = SCENARIOS / "demo-payment-latency.yaml"


def call(tool: str, args: dict[str, Any] | None = None, ok: bool = True) -> PlannedCall:
    return PlannedCall(tool=tool, args=args or {}, raw=f"{tool} {args}", constrained=False, latency_ms=1.0, ok=ok)


class ScriptedPlanner:
    """Plans from keywords of the request and what has run so far (a stand-in for the SLM).

    - "slow": p99 of the service, its topology, p99 of each callee, then respond;
    - "restart X" / "rollback X" / "scale X to N": that action, then respond;
    - a `script` list overrides the rules: its calls are returned in order (then respond).
    """

    name = "scripted"

    def __init__(self, script: Sequence[PlannedCall] | None = None, delay_s: float = 0.0,
                 summary: str = "") -> None:
        self.script = list(script) if script is not None else None
        self.delay_s = delay_s
        self.summary = summary
        self.calls = 0
        self.lock = threading.Lock()

    def plan(self, request: str, history: Sequence[Step] = (), context: Conversation | None = None) -> PlannedCall:
        with self.lock:
            self.calls += 1
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.script is not None:
            n = len(history)
            return self.script[n] if n < len(self.script) else call("respond", {"text": "done"})
        text = request.lower()
        m = re.search(r"\b(restart|rollback|roll back)\s+([a-z-]+)", text)
        if m:
            tool = "restart_service" if m.group(1) == "restart" else "rollback_deployment"
            return call("respond", {"text": "ok"}) if history else call(tool, {"service": resolve_service(m.group(2))})
        m = re.search(r"\bscale\s+([a-z-]+)\s+to\s+(\d+)", text)
        if m:
            args = {"service": resolve_service(m.group(1)), "replicas": int(m.group(2))}
            return call("respond", {"text": "ok"}) if history else call("scale_service", args)
        if "slow" in text:
            svc = "checkoutservice"
            for word in re.findall(r"[a-z-]+", text):
                try:
                    svc = resolve_service(word)
                    break
                except ValueError:
                    continue
            p99 = {"service": svc, "metric": "latency_p99", "window": "30m"}
            plan: list[PlannedCall] = [call("query_metrics", p99), call("get_topology", {"service": svc})]
            if len(history) < 2:
                return plan[len(history)]
            callees = history[1].result.data.get("callees", []) if history[1].result.data else []
            k = len(history) - 2
            if k < len(callees):
                return call("query_metrics", {"service": callees[k], "metric": "latency_p99", "window": "30m"})
            return call("respond", {"text": "Checkout is slow."})
        return call("respond", {"text": "I can investigate services and act on them."})

    def summarize(self, findings: dict) -> str:
        return self.summary


def make_service(home: Path, planner: Any, scenario: Path = PAYMENT, *, autonomy: int = 3, queue_size: int = 16,
                 step_limit: int = 8, live: bool = False, tokens: str = "") -> tuple[AgentService, Settings]:
    """A real AgentService (real gate, SQLite audit/approvals/checkpoints, simulator) over a fake planner."""
    settings = Settings(home=home, autonomy=autonomy, queue_size=queue_size, step_limit=step_limit, tokens=tokens,
                        sim_tick_s=3600.0)
    settings.ensure_home()
    ctx = build_context(settings, scenario, live=live)
    return build_service(settings, planner=planner, context=ctx), settings
