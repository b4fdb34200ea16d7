"""How cheap can a controller that acts on the past be? A forecast-sizing frontier for the scaling eval.

A quantile-regression network is trained on the training split of a trace to forecast the next minute's
load (its log change from the last minute) from the past only: the last 20 minutes, the last hour, the
same minutes one day earlier, and the time of day. Two families of forecast controllers size each
minute from it: to a fixed quantile tau of the forecast, or by pricing a violation minute at p
replica-minutes against the forecast's probability of one. Sweeping tau and p trades replica-hours
against SLO-violation minutes; every point is run on the real scaling harness
(`finetune.policy.rollout.run`, the same simulator, seed and scoring as `keel eval scaling`), so the
figures are the simulator's, not a model of it.

The controller reads the trace's true past load (no metric noise) and is sized per minute with no
stabilisation, so it is generous to itself: it shows what a good causal forecaster buys, not a policy
to ship. tau and p are swept on the evaluated split and the best point is read off there, which is
also generous; a point that misses a target here is out of reach of anything with this information.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from evals.plotting import save_figure
from evals.scaling import HISTORY, EvalSpec, _window, tune_hpa
from finetune.policy.env import ScalingEnv
from finetune.policy.rollout import HPAController, run
from finetune.policy.traffic import DAY, Trace, entry_scale, has_train_split, load_trace, split_bounds
from tools.services import current_topology

SIZING_UTILISATION = 0.85  # the utilisation the SLO is defined at (see finetune.policy.reward)
TAUS: tuple[float, ...] = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99, 0.995, 0.998)
PRICES: tuple[float, ...] = (5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 40.0, 60.0, 100.0)
N_INPUTS = 18


def forecast_inputs(log_load: np.ndarray, t: int, clock: float) -> np.ndarray:
    """Inputs for forecasting minute `t` from minutes before it (`log_load` in log replicas' worth)."""
    h = log_load[t - 20 : t]
    last = h[-1]
    hour = log_load[t - 60 : t]
    y = log_load[t - DAY : t - DAY + 10]
    angle = 2.0 * math.pi * (clock % DAY) / DAY
    return np.array([
        last, h[-5:].mean() - last, h[-10:].mean() - last, h.mean() - last, h[-5:].max() - last,
        h[-10:].max() - last, h.max() - last, np.diff(h).std(), h[-2] - last, h[-3] - last,
        math.sin(angle), math.cos(angle), hour.mean() - last, hour.max() - last,
        y[0] - last, y.mean() - last, y.max() - last, y[0] - log_load[t - DAY - 1],
    ], dtype=np.float32)


@dataclass
class Forecaster:
    """Quantile forecasts of the next minute's load; fit with `fit_forecaster`."""

    net: nn.Module
    mu: np.ndarray
    sd: np.ndarray
    taus: tuple[float, ...]

    def quantiles(self, x: np.ndarray) -> np.ndarray:
        """Log change of the load from the last minute at each of `taus` (sorted) for inputs `x` [N, F]."""
        with torch.no_grad():
            q = self.net(torch.as_tensor((x - self.mu) / self.sd)).numpy()
        return np.sort(q, axis=1)


def service_load(counts: np.ndarray, scale: float, service: str) -> np.ndarray:
    """Per-minute load on `service` in replicas' worth of capacity."""
    topo = current_topology()
    a, i = topo.arrays, topo.idx[service]
    return counts * scale * a.visits[i] / a.capacity[i]


def fit_forecaster(log_load: np.ndarray, clock0: int, lo: int, hi: int, seed: int = 0, epochs: int = 40,
                   taus: tuple[float, ...] = TAUS) -> Forecaster:
    """Pinball-loss MLP on minutes [max(lo, DAY + 1), hi) of `log_load`."""
    ts = np.arange(max(lo, DAY + 1), hi)
    x = np.stack([forecast_inputs(log_load, int(t), float(clock0 + t)) for t in ts])
    y = (log_load[ts] - log_load[ts - 1]).astype(np.float32)
    mu, sd = x.mean(0), x.std(0) + 1e-6
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(N_INPUTS, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, len(taus)))
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    xt, yt = torch.as_tensor((x - mu) / sd), torch.as_tensor(y)[:, None]
    tau = torch.as_tensor(taus, dtype=torch.float32)[None]
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        perm = torch.randperm(len(xt), generator=gen)
        for i in range(0, len(xt), 512):
            b = perm[i : i + 512]
            err = yt[b] - net(xt[b])
            loss = torch.maximum(tau * err, (tau - 1.0) * err).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return Forecaster(net, mu, sd, taus)


class ForecastController:
    """Sizes every minute to a forecast quantile of its load (see the module docstring).

    `plan` holds the replica count for each minute of the run (computed from the past load only).
    """

    def __init__(self, name: str, plan: np.ndarray) -> None:
        self.name, self.plan = name, plan

    def reset(self, env: ScalingEnv) -> None:
        pass

    def decide(self, env: ScalingEnv) -> int:
        return int(self.plan[env.minute])


def plans(fc: Forecaster, log_load: np.ndarray, clock0: int, lo: int, hi: int, warmup: int,
          prices: tuple[float, ...] = PRICES, max_replicas: int = 64) -> dict[str, np.ndarray]:
    """Replica plans for a run over minutes [lo - warmup, hi) of the trace, by controller label.

    "q<tau>": the fewest replicas keeping the forecast's tau-quantile under `SIZING_UTILISATION`.
    "price<p>": the replica count n minimising n + p x P(load > SIZING_UTILISATION x n), with P read off the
    forecast's quantiles (a violation minute priced at p replica-minutes). Index k of a plan is run minute k;
    warm-up minutes (history only, not scored) get one replica.
    """
    ts = np.arange(lo, hi)
    x = np.stack([forecast_inputs(log_load, int(t), float(clock0 + t)) for t in ts])
    q = fc.quantiles(x)
    levels = np.exp(log_load[ts - 1][:, None] + q)  # load quantiles [T, taus]
    taus = np.asarray(fc.taus)
    out = {}
    for j, tau in enumerate(fc.taus):
        out[f"q{tau:g}"] = np.concatenate([np.ones(warmup), np.ceil(levels[:, j] / SIZING_UTILISATION)])
    ns = np.arange(1, max_replicas + 1)
    tail = 1.0 - taus[-1]
    exceed = np.empty((len(ts), len(ns)))
    for i in range(len(ts)):
        exceed[i] = 1.0 - np.interp(SIZING_UTILISATION * ns, levels[i], taus, left=0.0, right=1.0 - tail / 2)
    for price in prices:
        n = ns[np.argmin(ns[None, :] + price * exceed, axis=1)]
        out[f"price{price:g}"] = np.concatenate([np.ones(warmup), n])
    return out


def trace_log_load(tr: Trace, scale: float, service: str) -> np.ndarray:
    return np.log(np.maximum(service_load(tr.counts, scale, service), 0.02))


def _vs_tuned(s: dict[str, Any], tuned: dict[str, Any]) -> float:
    """Replica-hours relative to the tuned HPA's, in percent."""
    return round(100.0 * (s["replica_hours"] / tuned["replica_hours"] - 1.0), 2)


def _row(s: dict[str, Any], tuned: dict[str, Any]) -> dict[str, Any]:
    return {"replica_hours": s["replica_hours"], "slo_violation_min": s["slo_violation_min"],
            "replica_hours_vs_hpa_tuned_pct": _vs_tuned(s, tuned), "p99_ms": s["p99_ms"], "actions": s["actions"]}


def frontier(spec: EvalSpec, policies: dict[str, dict[str, float]] | None = None) -> dict[str, Any]:
    """Forecast-controller points on the split beside the tuned HPA and the target box; the documented eval JSON.

    `results` maps each controller ("q<tau>", "price<p>", "hpa_tuned", and with `policies`, e.g.
    `evaluate(spec).payload["results"]`, also "grpo", "ppo", "hpa") to its figures; `summary` holds the
    target box and the cheapest forecast point within the tuned HPA's violations. The tuned HPA's run is
    taken from `policies` when they hold it (the same run on the same split), else run here.
    """
    if spec.trace is None:
        raise ValueError("the frontier needs a trace with a training split (not a synthetic family)")
    tr = load_trace(spec.trace, spec.column)
    if not has_train_split(len(tr)):
        raise ValueError(f"{tr.name} has no training split (needs 14 days) to fit the forecaster on")
    lo, hi = split_bounds(len(tr), spec.split if spec.split != "all" else "test")
    tlo, thi = split_bounds(len(tr), "train")
    scale = entry_scale(tr.counts, spec.service)
    log_load = trace_log_load(tr, scale, spec.service)
    fc = fit_forecaster(log_load, tr.clock0, tlo, thi, seed=spec.seed)
    load, clock0 = _window(tr, lo, hi, scale)
    target, _ = tune_hpa(spec, tr)
    tuned = (policies or {}).get("hpa_tuned") or run(
        HPAController("hpa_tuned", target), load, spec.service, HISTORY, clock0, spec.seed, spec.weights
    ).summary(spec.weights)
    points: list[dict[str, Any]] = []
    for label, plan in plans(fc, log_load, tr.clock0, lo, hi, HISTORY).items():
        s = run(ForecastController(label, plan), load, spec.service, HISTORY, clock0, spec.seed,
                spec.weights).summary(spec.weights)
        points.append({"controller": label, **s})
    box: dict[str, float] = {"replica_hours_max": round(0.9 * tuned["replica_hours"], 3),
           "slo_violation_min_max": tuned["slo_violation_min"]}
    inside = [p for p in points if p["replica_hours"] <= box["replica_hours_max"]
              and p["slo_violation_min"] <= box["slo_violation_min_max"]]
    ok = [p for p in points if p["slo_violation_min"] <= box["slo_violation_min_max"]]
    best = min(ok, key=lambda p: p["replica_hours"]) if ok else None
    return {
        "eval": "scaling_frontier",
        "dataset": f"{tr.name} ({spec.split} split, minutes {lo}-{hi})",
        "config": {"service": spec.service, "seed": spec.seed, "forecaster": f"pinball-loss MLP, {N_INPUTS} inputs, "
                   f"fit on minutes {max(tlo, DAY + 1)}-{thi}", "sizing_utilisation": SIZING_UTILISATION,
                   "taus": list(TAUS), "prices": list(PRICES),
                   "hpa_tuned_target": target},
        "results": {
            **{p["controller"]: _row(p, tuned) for p in points}, "hpa_tuned": _row(tuned, tuned),
            **{k: _row(v, tuned) for k, v in (policies or {}).items() if k in ("grpo", "ppo", "hpa")},
        },
        "summary": {"target_box": box, "points_in_box": len(inside), "cheapest_within_violations": best,
                    "cheapest_vs_hpa_tuned_pct": None if best is None else _vs_tuned(best, tuned)},
    }


def plot_frontier(payload: dict[str, Any], path: Path) -> Path:
    """Replica-hours against SLO-violation minutes: the forecast points, the HPAs, the policies, the target box."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    res = payload["results"]
    pts = [{"controller": k, **v} for k, v in res.items() if k.startswith(("q", "price"))]
    fig, ax = plt.subplots(figsize=(8, 5.5))
    for prefix, style, label in (("q", "o-", "sized to forecast quantile q"),
                                 ("price", "^--", "violation priced at p replica-minutes")):
        fam = sorted((p for p in pts if p["controller"].startswith(prefix)), key=lambda p: p["slo_violation_min"])
        ax.plot([p["slo_violation_min"] for p in fam], [p["replica_hours"] for p in fam], style, color="0.45",
                ms=5, label=f"forecast controller: {label}")
        for p in fam:
            ax.annotate(p["controller"], (p["slo_violation_min"], p["replica_hours"]), fontsize=6,
                        textcoords="offset points", xytext=(4, 3))
    t = res["hpa_tuned"]
    ax.plot(t["slo_violation_min"], t["replica_hours"], "s", color="tab:green", ms=9, label="tuned HPA")
    colors = {"grpo": "tab:red", "ppo": "tab:purple", "hpa": "tab:blue"}
    for name, s in ((k, v) for k, v in res.items() if k in ("grpo", "ppo", "hpa")):
        ax.plot(s["slo_violation_min"], s["replica_hours"], "D", color=colors.get(name, "k"), ms=8, label=name)
    box = payload["summary"]["target_box"]
    ax.fill_between([0, box["slo_violation_min_max"]], 0, box["replica_hours_max"], color="tab:green", alpha=0.12,
                    label="target: <= tuned HPA's violations, >= 10 % fewer replica-hours")
    ys = [p["replica_hours"] for p in pts] + [t["replica_hours"]]
    ax.set_ylim(min(ys + [box["replica_hours_max"]]) * 0.95, max(ys) * 1.03)
    ax.set_xlim(0, max(p["slo_violation_min"] for p in pts) * 1.05)
    ax.set_xlabel("SLO-violation minutes")
    ax.set_ylabel("replica-hours")
    ax.set_title(payload["dataset"], fontsize=10)
    ax.legend(fontsize=8)
    return save_figure(fig, path)
