"""Two-step planner examples recorded on the simulator: one call, its result, then the answer.

Each script starts from a request rendered from the templates, runs the call on a faulty simulated cluster
(`tools.registry.call_tool`), renders the result as a compact observation, and records (request +
observations so far -> next call or `respond`). Some writes are shown as pending or denied (what governance
can answer) and some recommend_scaling results are synthesised. Whole investigations (root-cause analysis,
then mitigation) are in `finetune.slm.investigations`.
"""

from __future__ import annotations

import random
from typing import Any

from agent.planner.prompt import render_observation
from finetune.slm.data import FAMILIES, example, is_dev_family, render
from tools.backends.sim.cluster import Simulator
from tools.backends.sim.faults import FAULT_TYPES, Fault
from tools.backends.sim.load import LoadCurve
from tools.backends.sim_backend import sim_context
from tools.contract import validate_call
from tools.envelope import ToolResult
from tools.registry import call_tool
from tools.services import current_topology

_UNITS = {"cpu": "%", "memory": "MB", "latency_p50": "ms", "latency_p99": "ms", "throughput": "rps"}


def _fault_sim(rng: random.Random) -> tuple[Simulator, Fault]:
    ftype = rng.choice(list(FAULT_TYPES))
    topo = current_topology()
    svc = rng.choice(topo.names)
    fault = Fault(ftype, svc, start=rng.randint(10, 30), duration=120, intensity=round(rng.uniform(0.5, 1.0), 2))
    sim = Simulator(LoadCurve.diurnal(peak_rps=rng.choice([200, 300, 400, 500]), seed=rng.randint(0, 99)),
                    [fault], seed=rng.randint(0, 10_000))
    sim.run_until(fault.start + rng.randint(8, 25))
    return sim, fault


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1 else f"{v:.0f}"
    return str(v)


def _metric_answer(data: dict[str, Any]) -> str:
    u = _UNITS.get(data["metric"], "")
    return (f"{data['service']} {data['metric']} is {_fmt(data['current'])}{u} now "
            f"(from {_fmt(data['start'])}{u}, max {_fmt(data['max'])}{u} over {data['window']}).")


class ScriptRun:
    """Collects examples while a script executes calls on the simulator."""

    def __init__(self, request: str, sim: Simulator, family: str) -> None:
        self.request, self.sim, self.family = request, sim, family
        self.ctx = sim_context(sim)
        self.obs: list[str] = []
        self.out: list[dict[str, Any]] = []

    def step(self, tool: str, args: dict[str, Any], result: ToolResult | None = None,
             record: bool = True) -> ToolResult:
        if record:
            self.out.append(example(self.request, self.obs, tool, args, "multi", self.family))
        if result is None:
            result = call_tool(tool, args, self.ctx)
        canon = args
        try:
            canon = validate_call(tool, args).model_dump(exclude_none=True)
        except ValueError:
            pass
        self.obs.append(render_observation(tool, canon, result))
        return result

    def respond(self, text: str) -> None:
        self.out.append(example(self.request, self.obs, "respond", {"text": text}, "multi", self.family))


def _pick(tool: str, rng: random.Random, split: str) -> tuple[int, Any]:
    fams = [(i, t) for i, t in enumerate(FAMILIES[tool]) if is_dev_family(tool, i) == (split == "dev")]
    return rng.choice(fams)


def _single_then_respond(rng: random.Random, split: str) -> list[dict[str, Any]]:
    """One read/write call, its real (or governed) result, then the answer."""
    sim, fault = _fault_sim(rng)
    tool = rng.choice(["query_metrics", "query_metrics", "search_logs", "get_topology", "scale_service",
                       "restart_service", "rollback_deployment", "recommend_scaling", "post_incident_summary",
                       "run_runbook"])
    idx, tpl = _pick(tool, rng, split)
    request, args = render(tool, tpl, rng)
    if tool == "query_metrics" and "metric" not in args:
        return []
    run = ScriptRun(request, sim, f"{tool}.{idx}")
    gate = rng.random()
    result: ToolResult | None = None
    if tool in ("scale_service", "restart_service", "rollback_deployment", "run_runbook") and gate < 0.35:
        result = (ToolResult(status="pending_approval", data={"approval_id": f"a-{rng.randint(100, 999)}"})
                  if gate < 0.2 else ToolResult(status="denied", error="denied by the approver"))
    elif tool == "recommend_scaling":
        cur = rng.randint(1, 6)
        result = ToolResult.ok({"service": args["service"], "current_replicas": cur,
                                "recommended_replicas": max(1, cur + rng.choice([-1, 1, 2, 3]))})
    elif tool == "post_incident_summary" and rng.random() < 0.6:
        result = ToolResult.ok({"channel": args.get("channel", "#incidents"), "posted": True})
    res = run.step(tool, args, result)
    run.respond(answer(tool, args, res))
    if tool == "recommend_scaling" and res.status == "ok" and rng.random() < 0.5:
        rec = res.data["recommended_replicas"]
        ask = rng.choice(["scale {s} to whatever the policy recommends", "apply the recommended replicas for {s}",
                          "ask the scaler about {s} and apply it"])
        run2 = ScriptRun(ask.format(s=args["service"]), sim, f"{tool}.{idx}")
        run2.step(tool, args, res)
        r2 = run2.step("scale_service", {"service": args["service"], "replicas": rec})
        run2.respond(answer("scale_service", {"service": args["service"], "replicas": rec}, r2))
        return run.out + run2.out
    return run.out


def answer(tool: str, args: dict[str, Any], res: ToolResult) -> str:
    """The short reply after a single call (what the planner says when it responds)."""
    svc = args.get("service", "")
    if res.status == "pending_approval":
        return f"{tool} on {svc} is waiting for approval." if svc else f"{tool} is waiting for approval."
    if res.status == "denied":
        return f"{tool} was denied: {res.error}."
    if res.status == "error":
        return f"{tool} failed: {res.error}."
    if res.status == "no_data":
        return f"No data: {res.error}."
    d = res.data
    if tool == "query_metrics":
        return _metric_answer(d)
    if tool == "search_logs":
        top = d["lines"][0]["message"][:80] if d["lines"] else ""
        return f"{d['total_matches']} matching log lines; latest: \"{top}\"."
    if tool == "get_topology":
        if "services" in d:
            return f"{len(d['services'])} services with {len(d['edges'])} call edges."
        return (f"{d['service']} is called by {', '.join(d['callers']) or 'nothing'} and calls "
                f"{', '.join(d['callees']) or 'nothing'}.")
    if tool == "recommend_scaling":
        return f"The policy recommends {d['recommended_replicas']} replicas for {svc} (now {d['current_replicas']})."
    if tool == "scale_service":
        return f"Scaled {svc} from {d['previous_replicas']} to {d['replicas']} replicas."
    if tool == "restart_service":
        return f"Restarted {svc}."
    if tool == "rollback_deployment":
        return f"Rolled back {svc} to revision {d['revision']}."
    if tool == "post_incident_summary":
        return f"Posted the summary to {args.get('channel', '#incidents')}."
    return "Done."


def trajectory_examples(rng: random.Random, n_scripts: int, split: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for _ in range(n_scripts):
        out.extend(_single_then_respond(rng, split))
    return out
