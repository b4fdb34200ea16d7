"""Gradual rollout on the simulator: the shipped policy and a deliberately bad one, each beside the HPA rule.

Both run `finetune.policy.gradual.GradualRollout` on the same load (a synthetic family member, or a trace
split) with the tuned HPA as the incumbent. The bad policy always asks for two replicas fewer, with no
safety floor; its shadow record shows more violation minutes, so its share should fall. Every proposal is
appended to an audit log (kind `proposal`, tool `scale_service`, `data.controller` naming who decided, and
`data.policy_rollout` the share), and the log's hash chain is verified at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evals.plotting import save_figure
from evals.scaling import HISTORY, EvalSpec, _window, family_trace, tune_hpa
from finetune.policy.env import ScalingEnv
from finetune.policy.gradual import GradualRollout, RolloutConfig
from finetune.policy.inference import load_policy, policy_space
from finetune.policy.rollout import HPAController, PolicyController, run
from finetune.policy.safety import SafetyFloor
from finetune.policy.traffic import entry_scale, load_trace, split_bounds
from governance.audit import SqliteAuditStore
from governance.chain import NewRecord


class ScaleDownController:
    """The deliberately bad policy: two replicas fewer than now, every minute."""

    name = "bad"

    def reset(self, env: ScalingEnv) -> None:
        env.floor = None

    def decide(self, env: ScalingEnv) -> int:
        return env.replicas - 2


@dataclass
class RolloutOutcome:
    name: str
    summary: dict[str, Any]
    shares: list[tuple[int, float]]
    records: int
    by_controller: dict[str, int]


def _audit(store: SqliteAuditStore, service: str, label: str):  # noqa: ANN202 (a closure)
    def append(rec: dict[str, Any]) -> None:
        store.append(NewRecord("proposal", {**rec, "rollout": label}, actor=f"scaling-rollout:{label}",
                               tool="scale_service", service=service), durable=False)
    return append


def evaluate(spec: EvalSpec, audit_path: Path, cfg: RolloutConfig | None = None) -> dict[str, Any]:
    """Run both rollouts; the documented eval JSON (`results`: shipped and bad, with their final shares)."""
    cfg = cfg or RolloutConfig()
    tr = family_trace(spec.family, spec.seed) if spec.family else load_trace(spec.trace, spec.column)  # type: ignore[arg-type]
    lo, hi = split_bounds(len(tr), spec.split)
    scale = entry_scale(tr.counts, spec.service)
    load, clock0 = _window(tr, lo, hi, scale)
    target, _ = tune_hpa(spec, tr)
    policy, meta = load_policy(spec.policy)
    floor = SafetyFloor(float((meta.get("floor") or {"tau": 0.5})["tau"]))
    audit_path.parent.mkdir(parents=True, exist_ok=True)
    outcomes = []
    with SqliteAuditStore(audit_path) as store:
        shipped = PolicyController("grpo", policy, floor, policy_space(meta))
        for label, pol in (("shipped", shipped), ("bad", ScaleDownController())):
            ctl = GradualRollout(pol, HPAController("hpa_tuned", target), cfg,
                                 on_record=_audit(store, spec.service, label), name=f"rollout_{label}")
            r = run(ctl, load, spec.service, HISTORY, clock0, spec.seed, spec.weights)
            by = {k: sum(1 for x in ctl.records if x["controller"] == k) for k in ("policy", "hpa")}
            outcomes.append(RolloutOutcome(label, r.summary(spec.weights), ctl.shares, len(ctl.records), by))
        report = store.verify()
    hpa = run(HPAController("hpa_tuned", target), load, spec.service, HISTORY, clock0, spec.seed,
              spec.weights).summary(spec.weights)
    results: dict[str, Any] = {"hpa_tuned": hpa}
    for o in outcomes:
        shares = [s for _, s in o.shares]
        results[f"rollout_{o.name}"] = {**o.summary, "final_share": shares[-1], "max_share": max(shares),
                                        "share_changes": len(shares) - 1, "policy_decisions": o.by_controller["policy"],
                                        "hpa_decisions": o.by_controller["hpa"]}
    return {
        "eval": "scaling_rollout",
        "dataset": f"{tr.name} ({spec.split} split, minutes {lo}-{hi})",
        "config": {"service": spec.service, "steps": list(cfg.steps), "start_share": cfg.steps[cfg.start_step],
                   "window": cfg.window, "score_every_min": cfg.score_every, "horizon_min": cfg.horizon,
                   "hpa_tuned_target": target, "bad_policy": "two replicas fewer than now every minute, no floor",
                   "audit": {"path": str(audit_path), "verified": bool(getattr(report, "ok", False)),
                             "records": sum(o.records for o in outcomes)}},
        "results": results,
        "shares": {o.name: [[m - HISTORY, s] for m, s in o.shares] for o in outcomes},
    }


def plot(payload: dict[str, Any], path: Path) -> Path:
    """The `policy_rollout` share over time for both policies."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 3.8))
    end = payload["config"].get("minutes") or max(m for s in payload["shares"].values() for m, _ in s) + 60
    for name, color in (("shipped", "tab:red"), ("bad", "tab:gray")):
        pts = np.array(payload["shares"][name] + [[end, payload["shares"][name][-1][1]]], dtype=float)
        ax.step(pts[:, 0] / 60.0, pts[:, 1], where="post", color=color, label=f"{name} policy")
    ax.set_xlabel("hours")
    ax.set_ylabel("policy_rollout share")
    ax.set_ylim(-0.03, 1.05)
    ax.set_title(payload["dataset"], fontsize=10)
    ax.legend()
    return save_figure(fig, path)
