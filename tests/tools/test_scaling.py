"""recommend_scaling: recommendation, probabilities and expected effect; never acts; other backends; errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from finetune.policy.env import ACTION_NAMES
from finetune.policy.features import HISTORY
from finetune.policy.recommend import DEFAULT_POLICY, PolicyAdvisor
from tests.shop import IDX, SPECS
from tools.backends.base import Point, ToolContext, ToolDeps
from tools.backends.sim.cluster import Simulator
from tools.backends.sim.load import LoadCurve
from tools.backends.sim.model import METRIC_NAMES
from tools.backends.sim_backend import sim_context
from tools.registry import call_tool


@pytest.fixture(scope="module")
def policy_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    from finetune.policy.model import policy_net, save_policy

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("policy") / "p.pt"
    save_policy(path, policy_net(), {"algo": "grpo", "iterations": 0})
    return path


def _sim(minutes: int = 30, rps: float = 500.0) -> Simulator:
    sim = Simulator(LoadCurve.constant(rps), seed=3)
    sim.step(minutes)
    return sim



def _advise_after_a_jump(path: Path, before: int, rps: float, after: int) -> tuple[Simulator, dict]:
    """The simulator after `before` minutes at 200 rps and `after` at `rps`, and recommend_scaling's data for the
    frontend from the policy at `path`."""
    sim = Simulator(LoadCurve.constant(200.0), seed=1)
    sim.step(before)
    sim.load = LoadCurve.constant(rps)
    sim.step(after)
    d = call_tool("recommend_scaling", {"service": "frontend"}, sim_context(sim).with_deps(
        scaling=PolicyAdvisor(path))).data
    return sim, d

def test_recommendation_on_the_simulator_never_acts(policy_file: Path) -> None:
    sim = _sim()
    ctx = sim_context(sim).with_deps(scaling=PolicyAdvisor(policy_file))
    before = (sim.minute, sim.replicas.copy(), len(sim.events), sim.history.copy())
    res = call_tool("recommend_scaling", {"service": "checkout"}, ctx)
    assert res.status == "ok", res.error
    d = res.data
    assert d["service"] == "checkoutservice" and d["current_replicas"] == SPECS["checkoutservice"].replicas
    assert set(d["probabilities"]) == set(ACTION_NAMES)
    assert sum(d["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
    spec = SPECS["checkoutservice"]
    assert spec.min_replicas <= d["recommended_replicas"] <= spec.max_replicas
    assert d["action"] in ACTION_NAMES
    for key in ("p99_ms", "utilisation", "error_rate", "within_slo"):
        assert key in d["expected"]
    assert "simulated look-ahead" in d["expected"]["method"]
    assert sim.minute == before[0] and (sim.replicas == before[1]).all() and len(sim.events) == before[2]
    np.testing.assert_array_equal(sim.history, before[3])


def test_more_replicas_look_faster_in_the_look_ahead(policy_file: Path) -> None:
    sim = _sim(rps=450.0)  # frontend at ~70 % on 3 replicas
    ctx = sim_context(sim).with_deps(scaling=PolicyAdvisor(policy_file))
    d = call_tool("recommend_scaling", {"service": "frontend"}, ctx).data
    if d["recommended_replicas"] > d["current_replicas"]:
        assert d["expected"]["utilisation"] < d["if_unchanged"]["utilisation"]
    elif d["recommended_replicas"] < d["current_replicas"]:
        assert d["expected"]["utilisation"] > d["if_unchanged"]["utilisation"]


class _Metrics:
    name = "fake"

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    def series(self, service: str, metric: str, window_s: int) -> list[Point]:
        values = self.sim.series(service, metric, window_s // 60)
        return [Point(60.0 * k, float(v)) for k, v in enumerate(values)]


def test_other_backends_use_metric_series(policy_file: Path) -> None:
    m = _Metrics(_sim())
    ctx = ToolContext(metrics=m, logs=None, topology=None, actions=None,  # type: ignore[arg-type]
                      deps=ToolDeps(scaling=PolicyAdvisor(policy_file)))
    d = call_tool("recommend_scaling", {"service": "cartservice"}, ctx).data
    assert d["current_replicas"] == SPECS["cartservice"].replicas
    assert d["expected"]["method"].startswith("M/M/1")
    assert len(METRIC_NAMES) == 8 and HISTORY >= 2


def test_no_metrics_yet_is_no_data(policy_file: Path) -> None:
    ctx = sim_context(Simulator(LoadCurve.constant(100.0))).with_deps(scaling=PolicyAdvisor(policy_file))
    assert call_tool("recommend_scaling", {"service": "frontend"}, ctx).status == "no_data"


def test_errors_are_envelopes(tmp_path: Path) -> None:
    ctx = sim_context(_sim(5))
    bad = call_tool("recommend_scaling", {"service": "nope"}, ctx)
    assert bad.status == "error" and "allowed" in (bad.error or "")
    ctx = ctx.with_deps(scaling=PolicyAdvisor(tmp_path / "missing.pt"))
    missing = call_tool("recommend_scaling", {"service": "frontend"}, ctx)
    assert missing.status == "error" and "keel finetune policy" in (missing.error or "")


def test_shipped_policy_recommends_scaling_out_under_overload() -> None:
    if not DEFAULT_POLICY.exists():
        pytest.skip(f"no shipped policy at {DEFAULT_POLICY}")
    sim = Simulator(LoadCurve.constant(200.0), seed=1)
    sim.step(20)
    sim.load = LoadCurve.constant(900.0)  # load jumps far beyond 3 frontend replicas
    sim.step(2)
    ctx = sim_context(sim).with_deps(scaling=PolicyAdvisor())
    d = call_tool("recommend_scaling", {"service": "frontend"}, ctx).data
    assert d["recommended_replicas"] > d["current_replicas"] == int(sim.replicas[IDX["frontend"]])


def test_forecast_says_when_history_is_too_short(policy_file: Path) -> None:
    ctx = sim_context(_sim(30)).with_deps(scaling=PolicyAdvisor(policy_file))
    d = call_tool("recommend_scaling", {"service": "frontend"}, ctx).data
    assert d["forecast"]["status"] == "insufficient_history" and "30 minutes of history" in d["forecast"]["reason"]


def test_next_hour_forecast_after_a_day_names_replicas_and_peak_time(policy_file: Path) -> None:
    sim = Simulator(LoadCurve.diurnal(peak_rps=600.0, days=2, seed=2), seed=2)
    sim.step(1440 + 600)  # a day and ten hours: the daily peak is ahead
    ctx = sim_context(sim).with_deps(scaling=PolicyAdvisor(policy_file))
    d = call_tool("recommend_scaling", {"service": "frontend"}, ctx).data
    fc = d["forecast"]
    assert fc["status"] == "ok" and fc["method"] == "seasonal"
    assert 1 <= fc["p50_replicas"] <= fc["p90_replicas"] <= SPECS["frontend"].max_replicas
    assert 1 <= fc["peak_in_min"] <= 60 and len(fc["peak_at"]) == 5 and fc["load_vs_now"] > 0


def test_safety_floor_of_a_floored_policy_bounds_the_recommendation(tmp_path: Path) -> None:
    import torch

    from finetune.policy.model import policy_net, save_policy

    torch.manual_seed(0)
    path = tmp_path / "floored.pt"
    save_policy(path, policy_net(), {"algo": "grpo", "iterations": 0, "floor": {"tau": 0.9, "utilisation": 0.85}})
    sim, d = _advise_after_a_jump(path, 60, 700.0, 3)
    assert d["safety_floor"]["replicas"] >= 1 and d["recommended_replicas"] >= d["safety_floor"]["replicas"]


def test_observation_states_the_forecast_or_its_absence() -> None:
    from tools.results import ScalingRecommendation

    base = {"current_replicas": 3, "recommended_replicas": 4}
    assert ScalingRecommendation(**base).observation() == "3->4 replicas"
    ok = ScalingRecommendation(**base, forecast={"status": "ok", "load_vs_now": 2.3, "peak_at": "18:00",
                                                 "p50_replicas": 4, "p90_replicas": 5, "more_replicas_from": "17:45"})
    assert ok.observation() == "3->4 replicas; next hour: ~2.3x load at 18:00, 4 replicas from 17:45 (p90 5)"
    short = ScalingRecommendation(**base, forecast={"status": "insufficient_history", "reason": "x"})
    assert "too little history" in short.observation()


def test_a_residual_policy_recommends_the_tuned_hpas_decision_plus_its_correction(tmp_path: Path) -> None:
    from finetune.policy.action_space import ActionSpace
    from finetune.policy.features import ServiceInfo
    from finetune.policy.model import save_policy
    from finetune.policy.recommend import replayed_hpa_decision
    from finetune.policy.train import reference_net

    space = ActionSpace.residual(0.7)
    path = tmp_path / "residual.pt"
    save_policy(path, reference_net(space, 0.6, seed=0), {"algo": "grpo", "iterations": 0}, space)
    sim, d = _advise_after_a_jump(path, 60, 900.0, 2)
    i = sim.idx["frontend"]
    hpa = replayed_hpa_decision(sim.history[:, i], int(sim.replicas[i]), space, ServiceInfo.of("frontend"))
    assert hpa > sim.replicas[i]  # the load rose: the HPA scales up, so following it is not "no change"
    assert d["action"] == "hpa" and d["hpa_replicas"] == hpa == d["recommended_replicas"]
    assert set(d["probabilities"]) == set(space.names)


def test_with_too_little_history_the_floor_is_the_demand_seen(tmp_path: Path) -> None:
    import torch

    from finetune.policy.model import policy_net, save_policy

    torch.manual_seed(0)
    path = tmp_path / "floored.pt"
    save_policy(path, policy_net(), {"algo": "grpo", "iterations": 0, "floor": {"tau": 0.5, "utilisation": 0.85}})
    sim, d = _advise_after_a_jump(path, 15, 900.0, 3)
    floor = d["safety_floor"]
    assert "too little history" in floor["rule"]
    assert floor["replicas"] > d["current_replicas"] and d["recommended_replicas"] >= floor["replicas"]


def test_reactive_floor_serves_the_peak_demand_at_the_slo_utilisation() -> None:
    from finetune.policy.features import ServiceInfo
    from finetune.policy.safety import SafetyFloor

    info = ServiceInfo.of("frontend")
    floor = SafetyFloor(0.5, utilisation=0.85)
    assert floor.replicas(None, info, seen=np.array([1.0, 2.6, 2.0])) == 4  # ceil(2.6 / 0.85)
    assert floor.replicas(None, info, seen=np.array([0.01])) == info.min_replicas
    assert floor.replicas(None, info, seen=np.array([1e6])) == info.max_replicas
    assert floor.replicas(None, info, seen=np.array([])) is None
    assert floor.replicas(None, info) is None  # the environment's case: no forecast, no floor
