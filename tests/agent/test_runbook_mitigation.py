"""Each shipped runbook, run on the simulator through the real gate (approvals given by a second person),
mitigates the fault it is written for, and posts its summary to a webhook receiver on 127.0.0.1.

Runbooks whose decisions need root_cause_analysis or recommend_scaling skip (fail under CI), naming the tool,
when that tool answers with an error; they never substitute made-up results."""

from __future__ import annotations

from pathlib import Path

from agent.runbooks.store import RunRecord
from tests.agent.test_runbook_fixtures import ALICE, Receiver, approve_through, make_engine, receiver, sim_at
from tests.ci import unavailable
from tests.shop import IDX
from tools.backends.base import ToolContext
from tools.backends.sim.cluster import Simulator
from tools.backends.sim.faults import Fault
from tools.backends.sim.model import M
from tools.registry import call_tool

__all__ = ["receiver"]


def _needs(tool: str, args: dict, ctx: ToolContext) -> None:
    r = call_tool(tool, args, ctx)  # a read tool: the simulator is not changed
    if r.status == "error":
        unavailable(f"blocked: {tool} answers {r.error!r}")


def _run(tmp_path: Path, name: str, service: str, ctx: ToolContext, hook: Receiver) -> RunRecord:
    ctx.extras["slack_webhook_url"] = hook.url
    ctx.extras["delivery_options"] = {"backoff_s": 0.01}
    engine = make_engine(tmp_path)
    run = approve_through(engine, engine.start(name, {"service": service}, ALICE, ctx), ctx)
    failed = [s.id for s in run.steps if s.status in ("error", "denied")]
    assert run.status in ("succeeded", "completed_with_failures"), (run.reason, failed)
    assert set(failed) <= {"rca"}, run.reason  # only an optional analysis may fail (on_failure: continue)
    summary = run.step("summary")
    assert summary is not None and summary.status == "ok" and summary.data["delivery"]["status"] == "delivered"
    body = hook.json_bodies()[-1]
    assert body["blocks"][0]["type"] == "header" and name in body["blocks"][0]["text"]["text"]
    for s in run.steps:  # every action the run took is in the summary, with its oversight
        if s.tool in ("scale_service", "restart_service", "rollback_deployment") and s.status == "ok":
            assert f"{s.tool}(service={s.args['service']}" in body["text"]
            assert f"oversight {s.oversight}" in body["text"]
    return run


def _now(sim: Simulator, service: str, metric: str) -> float:
    return float(sim.history[-1, IDX[service], M[metric]])


def test_memory_leak_runbook_restarts_the_leaking_service(tmp_path: Path, receiver: Receiver) -> None:
    sim, ctx = sim_at(40, Fault("memory_leak", "cartservice", 20, 200, 0.5))
    run = _run(tmp_path, "memory-leak", "cartservice", ctx, receiver)
    assert run.step("restart").status == "ok"  # type: ignore[union-attr]
    assert not sim.active_faults()
    after = run.step("memory_after").data  # type: ignore[union-attr]
    assert after["max"] < 0.5 * 512 and run.step("oom_after").status == "no_data"  # type: ignore[union-attr]


def test_bad_deploy_runbook_rolls_back_the_deployment(tmp_path: Path, receiver: Receiver) -> None:
    sim, ctx = sim_at(40, Fault("error_burst", "paymentservice", 20, 200, 0.8))
    before = _now(sim, "frontend", "error_rate")
    run = _run(tmp_path, "bad-deploy", "frontend", ctx, receiver)
    assert run.step("rollback").args == {"service": "paymentservice"}  # type: ignore[union-attr]
    assert not sim.active_faults()
    assert _now(sim, "paymentservice", "error_rate") < 0.01 and _now(sim, "frontend", "error_rate") < before / 5


def test_bad_deploy_runbook_ignores_a_healthy_deploy(tmp_path: Path, receiver: Receiver) -> None:
    sim, ctx = sim_at(40, Fault("error_burst", "paymentservice", 20, 200, 0.8))
    sim.schedule_deploy("adservice", 41)  # a harmless deploy after the bad one: newest, but healthy
    sim.run_until(45)
    run = _run(tmp_path, "bad-deploy", "frontend", ctx, receiver)
    assert run.step("latest_errors").args["service"] == "adservice"  # type: ignore[union-attr]
    assert run.step("rollback").args == {"service": "paymentservice"}  # type: ignore[union-attr]
    assert not sim.active_faults()


def test_error_spike_runbook_restarts_a_crash_looping_service(tmp_path: Path, receiver: Receiver) -> None:
    sim, ctx = sim_at(40, Fault("crash", "cartservice", 20, 200))
    run = _run(tmp_path, "error-spike", "cartservice", ctx, receiver)
    assert run.step("restart").args == {"service": "cartservice"}  # type: ignore[union-attr]
    assert not sim.active_faults() and _now(sim, "cartservice", "error_rate") < 0.01


def test_error_spike_runbook_from_the_frontend_symptom(tmp_path: Path, receiver: Receiver) -> None:
    sim, ctx = sim_at(40, Fault("crash", "cartservice", 20, 200))
    _needs("root_cause_analysis", {"service": "frontend", "metric": "error_rate"}, ctx)
    run = _run(tmp_path, "error-spike", "frontend", ctx, receiver)
    assert run.step("restart").args == {"service": "cartservice"}  # type: ignore[union-attr]
    assert not sim.active_faults() and _now(sim, "frontend", "error_rate") < 0.05


def test_high_latency_runbook_scales_a_saturated_service(tmp_path: Path, receiver: Receiver) -> None:
    sim, ctx = sim_at(40, Fault("cpu_hog", "checkoutservice", 20, 200, 0.9))
    _needs("root_cause_analysis", {"service": "checkoutservice"}, ctx)
    _needs("recommend_scaling", {"service": "checkoutservice"}, ctx)
    before = _now(sim, "checkoutservice", "latency_p99")
    run = _run(tmp_path, "high-latency", "checkoutservice", ctx, receiver)
    scale = run.step("scale")
    assert scale is not None and scale.status == "ok" and scale.args["service"] == "checkoutservice"
    assert scale.args["replicas"] >= 2
    assert _now(sim, "checkoutservice", "latency_p99") < 0.5 * before


def test_traffic_surge_runbook_scales_out(tmp_path: Path, receiver: Receiver) -> None:
    sim, ctx = sim_at(40, Fault("traffic_spike", "checkoutservice", 20, 200, 0.8))
    _needs("recommend_scaling", {"service": "checkoutservice"}, ctx)
    before = _now(sim, "checkoutservice", "latency_p99")
    run = _run(tmp_path, "traffic-surge", "checkoutservice", ctx, receiver)
    scale = run.step("scale")
    assert scale is not None and scale.status == "ok" and scale.args["replicas"] >= 2
    assert _now(sim, "checkoutservice", "latency_p99") < 0.2 * before
    assert _now(sim, "checkoutservice", "error_rate") < 0.02
