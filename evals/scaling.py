"""The scaling eval: the GRPO policy against PPO, the Kubernetes HPA (default and tuned), a static allocation
and a forecast-sized controller, on a real trace or a member of a synthetic traffic family.

`grpo` (also reported as `keel`) is the shipped policy behind its safety floor (`finetune.policy.safety`; the
floor's quantile is the one in its metadata, chosen on the validation days by `evals.scaling_floor`);
`grpo_nofloor` the same network with no floor (the floor's ablation); `forecast` the floor alone (sized every
minute to the short-term forecast, the frontier's sizing rule on the runtime forecaster). A synthetic family
(`family`) is a 3-day member drawn with a fixed evaluation seed. All methods control the same service on the same
rescaled trace split with the same simulator seed (`finetune.policy.rollout`). The tuned HPA's CPU target is the
grid point with the best mean reward on the training split: the trace's own (when it has one, see
`finetune.policy.traffic`), otherwise the training split of the policies' training trace.
Grid-search results are cached under KEEL_HOME, keyed by everything they depend on, and the output says when a
cached search was used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from evals.plotting import save_figure
from evals.scaling_forecast import forecast_band
from finetune.policy.families import FAMILIES, HELDOUT_FAMILIES, generate
from finetune.policy.hpa import DEFAULT_TARGET, SYNC_S, TUNING_GRID, static_replicas
from finetune.policy.hpa_tuning import HISTORY, tune_on_training_split, window
from finetune.policy.inference import load_policy, policy_space
from finetune.policy.reward import RewardWeights, slo_ms
from finetune.policy.rollout import (
    Controller,
    ForecastController,
    HPAController,
    PolicyController,
    Run,
    StaticController,
    run,
)
from finetune.policy.safety import SafetyFloor
from finetune.policy.traffic import Trace, describe_scaling, entry_scale, has_train_split, load_trace, split_bounds
from tools.services import current_topology

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "finetune" / "artifacts"
DEFAULT_POLICY = ARTIFACTS / "scaling_policy.pt"
DEFAULT_PPO = ARTIFACTS / "scaling_policy_ppo.pt"
TRACES = ROOT.parent / "shared" / "data" / "traces"
DEFAULT_TRACE = TRACES / "nasa_http_1995_jul.csv"
HPA_GRID = TUNING_GRID  # 0.30 .. 0.95
METHODS = ("grpo", "grpo_nofloor", "forecast", "ppo", "hpa", "hpa_tuned", "static")
FAMILY_DAYS = 3
FAMILY_SEED = 7_000  # evaluation members of the synthetic families (training draws from other generators)
DEFAULT_FLOOR_TAU = 0.5


@dataclass
class EvalSpec:
    trace: Path | None = None
    family: str | None = None  # a synthetic family instead of a trace
    column: str | None = None
    split: str = "test"
    service: str = "frontend"
    seed: int = 0
    policy: Path = DEFAULT_POLICY
    ppo_policy: Path = DEFAULT_PPO
    train_trace: Path = DEFAULT_TRACE
    cache_dir: Path | None = None
    weights: RewardWeights = field(default_factory=RewardWeights)
    grid: tuple[float, ...] = HPA_GRID


def family_trace(family: str, seed: int = 0) -> Trace:
    """The evaluation member of a synthetic family: FAMILY_DAYS days, seed FAMILY_SEED + `seed`."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; allowed: {', '.join(FAMILIES)}")
    counts = generate(family, FAMILY_DAYS * 1440, np.random.default_rng([FAMILY_SEED + seed, 1]))
    return Trace(counts, 0, f"family:{family}" + ("" if family in HELDOUT_FAMILIES else " (a training family)"))


_window = window  # the evals' split windows are cut as the tuning's are


def tune_hpa(spec: EvalSpec, tr: Trace) -> tuple[float, dict[str, Any]]:
    """Grid-search the HPA CPU target on the training split by mean reward; returns (target, provenance).

    The trace's own training split when it has one, else the policies' training trace's (`hpa_tuning`).
    """
    if has_train_split(len(tr)):
        return tune_on_training_split(tr, spec.service, spec.seed, spec.weights, spec.grid, spec.cache_dir)
    if not spec.train_trace.exists():
        raise FileNotFoundError(f"{tr.name} has no training split and the training trace "
                                f"{spec.train_trace} is absent; pass --train-trace")
    train_tr = load_trace(spec.train_trace)
    return tune_on_training_split(train_tr, spec.service, spec.seed, spec.weights, spec.grid, spec.cache_dir,
                                  source=f"{train_tr.name} training split (the policies' training data)")


@dataclass
class EvalOutput:
    payload: dict[str, Any]
    runs: list[Run]
    offered_rps: np.ndarray
    checks: dict[str, bool]
    band: Any = None  # evals.scaling_forecast.ForecastBand of the grpo run


def _better(g: dict[str, float], p: dict[str, float]) -> bool:
    """GRPO beats PPO: it dominates on (replica-hours, violation minutes), else (no dominance) the higher reward."""
    g_dom = g["replica_hours"] <= p["replica_hours"] and g["slo_violation_min"] <= p["slo_violation_min"]
    p_dom = p["replica_hours"] <= g["replica_hours"] and p["slo_violation_min"] <= g["slo_violation_min"]
    if g_dom != p_dom:
        return g_dom
    return g["mean_reward"] > p["mean_reward"]


def evaluate(spec: EvalSpec) -> EvalOutput:
    """Run every method on the split and build the documented eval JSON."""
    topo = current_topology()
    if spec.service not in topo:
        raise ValueError(f"unknown service {spec.service!r}; allowed: {', '.join(topo.names)}")
    if spec.family:
        tr = family_trace(spec.family, spec.seed)
    elif spec.trace is not None:
        tr = load_trace(spec.trace, spec.column)
    else:
        raise ValueError("a trace or a family is needed")
    lo, hi = split_bounds(len(tr), spec.split)
    scale = entry_scale(tr.counts, spec.service)
    load, clock0 = _window(tr, lo, hi, scale)
    grpo_policy, grpo_meta = load_policy(spec.policy)
    ppo_policy, ppo_meta = load_policy(spec.ppo_policy)
    target, tuning = tune_hpa(spec, tr)
    floor_cfg = grpo_meta.get("floor") or {"tau": DEFAULT_FLOOR_TAU}
    floor = SafetyFloor(float(floor_cfg["tau"]))
    info = topo.spec(spec.service)
    offered = load[HISTORY:] * topo.arrays.visits[topo.idx[spec.service]]
    n_static = static_replicas(float(offered.max()), info.capacity_rps, info.max_replicas)
    space = policy_space(grpo_meta)
    controllers: list[Controller] = [
        PolicyController("grpo", grpo_policy, floor, space), PolicyController("grpo_nofloor", grpo_policy, None, space),
        ForecastController("forecast", floor), PolicyController("ppo", ppo_policy),
        HPAController("hpa", DEFAULT_TARGET), HPAController("hpa_tuned", target),
        StaticController("static", n_static),
    ]
    runs = [run(c, load, spec.service, HISTORY, clock0, spec.seed, spec.weights) for c in controllers]
    results = {r.name: r.summary(spec.weights) for r in runs}
    results["keel"] = dict(results["grpo"])
    grpo_ctl = controllers[0]
    assert isinstance(grpo_ctl, PolicyController)
    grpo_choices = {"minutes_per_action": dict(grpo_ctl.use.most_common()),
                    "minutes_unlike_action0": grpo_ctl.moved, "action0": space.names[0]}
    g, t, d, p = results["grpo"], results["hpa_tuned"], results["hpa"], results["ppo"]
    band = forecast_band(runs[0].demand, HISTORY) if runs[0].demand is not None else None
    checks = {
        "grpo_pareto_no_worse_than_hpa_tuned": (g["replica_hours"] <= t["replica_hours"]
                                                and g["slo_violation_min"] <= t["slo_violation_min"]),
        "grpo_violations_le_hpa_tuned": g["slo_violation_min"] <= t["slo_violation_min"],
        "grpo_replica_hours_10pct_below_hpa_tuned": g["replica_hours"] <= 0.9 * t["replica_hours"],
        "grpo_5x_fewer_violations_than_hpa": g["slo_violation_min"] * 5 <= d["slo_violation_min"],
        # better than PPO: no worse on both axes, or (neither dominating) the higher mean reward
        "grpo_better_than_ppo": _better(g, p),
    }
    payload = {
        "eval": "scaling",
        "dataset": f"{tr.name} ({spec.split} split, minutes {lo}-{hi})",
        "config": {
            "service": spec.service, "family": spec.family,
            "family_seed": FAMILY_SEED + spec.seed if spec.family else None, "minutes": hi - lo, "seed": spec.seed,
            "slo_p99_ms": round(slo_ms(spec.service), 1),
            "rescaling": describe_scaling(spec.service, scale),
            "hpa": f"Kubernetes HPA algorithm, CPU target {DEFAULT_TARGET}, tolerance 0.1, {SYNC_S} s sync run 4x per "
                   "simulated minute on the last minute's CPU, 300 s scale-down window, default rate limits",
            "hpa_tuned_target": target, "hpa_tuning": {k: v for k, v in tuning.items() if k != "train_scores"},
            "safety_floor": floor.describe() + " (grpo; forecast: the floor alone; grpo_nofloor: none)",
            "next_hour_forecast": None if band is None else {"hours": band.hours, "p90_coverage": band.coverage_p90,
                                                             "median_abs_log_error_p50": band.median_abs_log_error},
            "static_replicas": n_static, "static_rule": "replicas serving the split's peak minute at 70 % CPU",
            "policies": {"grpo": str(spec.policy.name), "ppo": str(spec.ppo_policy.name),
                         "grpo_sim_steps": grpo_meta.get("sim_steps"), "ppo_sim_steps": ppo_meta.get("sim_steps")},
            "decisions": "RL policies act greedily once per simulated minute (" + (
                f"grpo: {space.describe()}; ppo: " if space.hpa_based else "") + "actions 0, +-1, +-2, +-4 replicas)",
            "grpo_action_space": space.to_meta(),
            "grpo_choices": grpo_choices,
            "reward_weights": spec.weights.to_dict(),
            "metrics": "replica_hours = replica-minutes / 60; slo_violation_min = minutes with p99 > SLO; "
                       "p99_ms = mean per-minute p99; actions = minutes with a replica change",
            "targets": checks,
        },
        "results": results,
    }
    return EvalOutput(payload, runs, offered, checks, band)


def plot(out: EvalOutput, path: Path, title: str) -> Path:
    """Offered load and every method's replicas over the split; below, the day around the peak load."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(out.offered_rps)
    peak = int(np.argmax(out.offered_rps))
    lo = max(0, min(peak - 720, n - 1440))
    windows = [(0, n, title)] + ([(lo, lo + 1440, "the 24 hours around the peak minute")] if n > 1440 else [])
    fig, axes = plt.subplots(len(windows), 1, figsize=(13, 4.6 * len(windows)), squeeze=False)
    styles = {"static": ("black", 1.0, 0.8), "hpa": ("tab:blue", 0.7, 0.6), "hpa_tuned": ("tab:green", 0.7, 0.6),
              "ppo": ("tab:purple", 0.8, 0.8), "forecast": ("tab:brown", 0.7, 0.6),
              "grpo_nofloor": ("tab:pink", 0.7, 0.6), "grpo": ("tab:red", 1.3, 1.0)}
    order = sorted(out.runs, key=lambda r: list(styles).index(r.name) if r.name in styles else -1)
    for ax, (a, b, label) in zip(axes[:, 0], windows, strict=True):
        hours = np.arange(a, b) / 60.0
        ax2 = ax.twinx()
        ax2.fill_between(hours, out.offered_rps[a:b], color="0.85", label="offered load (rps)", step="mid")
        ax2.set_ylim(bottom=0)
        ax2.set_ylabel("offered load at the service (rps)")
        ax.set_zorder(ax2.get_zorder() + 1)
        ax.patch.set_visible(False)
        band = out.band
        if band is not None and band.hours:
            sel = (band.minutes >= a) & (band.minutes < b)
            ax.fill_between(band.minutes[sel] / 60.0, band.p50[sel], band.p90[sel], color="tab:orange", alpha=0.3,
                            lw=0, label="next-hour forecast p50-p90 (replicas, made hourly)")
        for r in order:
            color, lw, alpha = styles.get(r.name, ("tab:gray", 0.8, 0.8))
            ax.step(hours, r.replicas[a:b], where="mid", color=color, lw=lw, alpha=alpha, label=f"{r.name} replicas")
        ax.set_xlabel("hours into the split")
        ax.set_ylabel("replicas")
        ax.set_title(label)
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = ax2.get_legend_handles_labels()
        ax.legend(h1 + h2, l1 + l2, loc="upper left", fontsize=8, ncol=3)
    return save_figure(fig, path)
