"""The threshold rule-based responder: the classic "CPU > 80% -> scale up" automation, as a baseline.

When asked, it reads every service's latest metrics (as an alerting system would, straight from the
metrics backend) and fires the first matching rule per service:

1. down:     no ready replica (crash-looping)                    -> restart_service
2. memory:   memory >= 90% of the container limit                -> restart_service
3. cpu:      CPU >= 80%                                          -> scale_service by one bounded step
4. deploy:   error rate >= 10% and a deploy in the last 30 min   -> rollback_deployment
5. errors:   error rate >= 50%                                   -> restart_service

Every action goes through the same governance gate as the agent, as principal `threshold-rules`
(role operator). It re-evaluates every `period` simulated minutes for `rounds` rounds (a watch of
`rounds * period` minutes after the request), acting whenever a rule fires. It has no notion of
causality: its "root cause" is its top alert (rule order, then how far the metric is past its threshold).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from evals.e2e.harness import Run, Transcript
from governance.gate import Principal, current_replicas
from tools.backends.base import ToolContext
from tools.services import service_names

CPU_PCT = 80.0
MEMORY_FRAC = 0.90
DOWN_ERROR = 0.50
DEPLOY_ERROR = 0.10
DEPLOY_WINDOW_S = 30 * 60
PRINCIPAL = Principal("threshold-rules", "operator")


@dataclass(frozen=True)
class Firing:
    service: str
    rule: str  # down | memory | cpu | deploy
    tool: str
    value: float
    threshold: float

    @property
    def severity(self) -> float:
        return self.value / self.threshold if self.threshold else 1.0

    def describe(self) -> str:
        unit = {"down": "ready replicas", "memory": "memory/limit", "cpu": "CPU %", "deploy": "error rate",
                "errors": "error rate"}[self.rule]
        if self.rule == "down":
            return f"{self.service}: {unit} {self.value:.0f} -> {self.tool}"
        return f"{self.service}: {unit} {self.value:.3g} >= {self.threshold:g} -> {self.tool}"


RULE_ORDER = ("down", "memory", "cpu", "deploy", "errors")


def evaluate(latest: Mapping[str, Mapping[str, float]], memory_limit_mb: Mapping[str, float],
             deployed: set[str]) -> list[Firing]:
    """The first matching rule per service, most urgent first. `latest[service][metric]` is the last minute."""
    out: list[Firing] = []
    for svc, m in latest.items():
        err, cpu = m.get("error_rate", 0.0), m.get("cpu", 0.0)
        mem_frac = m.get("memory", 0.0) / memory_limit_mb[svc] if memory_limit_mb.get(svc) else 0.0
        if m.get("replicas", 1.0) <= 0:
            out.append(Firing(svc, "down", "restart_service", m.get("replicas", 0.0), 0.0))
        elif mem_frac >= MEMORY_FRAC:
            out.append(Firing(svc, "memory", "restart_service", mem_frac, MEMORY_FRAC))
        elif cpu >= CPU_PCT:
            out.append(Firing(svc, "cpu", "scale_service", cpu, CPU_PCT))
        elif err >= DEPLOY_ERROR and svc in deployed:
            out.append(Firing(svc, "deploy", "rollback_deployment", err, DEPLOY_ERROR))
        elif err >= DOWN_ERROR:
            out.append(Firing(svc, "errors", "restart_service", err, DOWN_ERROR))
    return sorted(out, key=lambda f: (RULE_ORDER.index(f.rule), -f.severity))


def scale_target(current: int, bounds: tuple[int, int] | None) -> int:
    """One bounded step up (+50%, at least one replica), capped at the maximum."""
    target = current + max(1, math.floor(0.5 * current))
    return min(target, bounds[1]) if bounds else target


def _latest(ctx: ToolContext) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for svc in service_names():
        row: dict[str, float] = {}
        for metric in ("cpu", "memory", "error_rate", "replicas"):
            points = ctx.metrics.series(svc, metric, 60)
            if points:
                row[metric] = points[-1].value
        out[svc] = row
    return out


def _deployed(ctx: ToolContext) -> set[str]:
    page = ctx.logs.search("Deployment updated", None, None, DEPLOY_WINDOW_S, 1000)
    return {x.service for x in page.lines}


class RulesResponder:
    """Threshold rules through the governance gate; see the module docstring."""

    name = "rules"

    def __init__(self, rounds: int = 4, period_min: int = 2) -> None:
        self.rounds, self.period_min = rounds, period_min

    def respond(self, run: Run) -> Transcript:
        ctx = run.ctx
        limits = {s.name: s.memory_limit_mb for s in run.sim.topology.services}
        lines: list[str] = []
        top: Firing | None = None
        steps = approvals = 0
        for r in range(self.rounds):
            with run.lock:
                firings = evaluate(_latest(ctx), limits, _deployed(ctx))
            if not firings:
                lines.append(f"round {r + 1}: no rule fires")
            elif top is None:
                top = firings[0]
            for f in firings:
                args: dict[str, object] = {"service": f.service}
                if f.tool == "scale_service":
                    with run.lock:
                        current, bounds = current_replicas(ctx, f.service)
                    if current is None:
                        continue
                    args["replicas"] = scale_target(current, bounds)
                result, granted = run.execute(f.tool, args, PRINCIPAL, f"threshold rule {f.rule}: {f.describe()}")
                steps += 1
                approvals += granted
                lines.append(f"round {r + 1}: {f.describe()}: {result.status}"
                             + (f" ({result.error})" if result.error else ""))
            run.tick(self.period_min)
        head = (f"Root cause (top alert): {top.service}" if top else "No threshold rule fired.")
        return Transcript(answer="\n".join([head, *lines]), steps=steps, approvals_granted=approvals)
