"""The safety floor's quantile, chosen on the training run's validation set (and the floor's ablation).

The shipped policy is run greedily behind the floor at each quantile `tau` of a grid (and with no floor) on the
validation set its training run selected checkpoints on (`finetune.policy.train.validation_set`: fixed days of the
training traces' training splits and one day of each training family; never a trace's test week, the Azure day or a
held-out family), beside the tuned HPA of that set (`train.tuned_hpa`; for a residual policy the HPA it corrects,
`train.reference_hpa`). The rule: the tau under which the policy is no worse than that HPA on both replica-hours and
SLO-violation minutes on the most validation families; ties go to the fewest replica-hours over all validation days.
The no-floor row is reported as the ablation and is not a candidate (the policy was trained behind a floor).
`apply_tau` writes the chosen tau into the policy's metadata
(the weights are untouched; the tau its training run used is kept as `trained_tau`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from finetune.policy.inference import load_policy, policy_space
from finetune.policy.reward import RewardWeights
from finetune.policy.safety import SafetyFloor
from finetune.policy.traffic import load_trace
from finetune.policy.train import pareto_wins, reference_hpa, validate, validation_set

DEFAULT_TAUS = (0.5, 0.6, 0.7, 0.8, 0.9)
NO_FLOOR = "none"
RULE = ("the tau under which the policy is no worse than the tuned HPA on both replica-hours and SLO-violation "
        "minutes on the most validation families; ties: the fewest replica-hours over all validation days")


def tau_label(tau: float | None) -> str:
    return NO_FLOOR if tau is None else f"{tau:g}"


def choose_tau(rows: dict[str, dict[str, Any]], reference: dict[str, Any]) -> str:
    """The label of the chosen tau among `rows` (label -> `validate` figures; the no-floor row is skipped)."""
    candidates = [k for k in rows if k != NO_FLOOR]
    if not candidates:
        raise ValueError("no floor quantile to choose from")
    return min(candidates, key=lambda k: (-pareto_wins(rows[k], reference), rows[k]["replica_hours"], float(k)))


def _traces(meta: dict[str, Any], trace_dir: Path) -> list[Any]:
    names = meta["config"].get("traces") or []
    missing = [n for n in names if not (trace_dir / n).exists()]
    if missing:
        raise FileNotFoundError(f"training trace(s) {', '.join(missing)} not found in {trace_dir}; pass --trace-dir")
    return [load_trace(trace_dir / n) for n in names]


def sweep(policy_path: Path, trace_dir: Path, taus: tuple[float, ...] = DEFAULT_TAUS,
          progress: Any = None) -> dict[str, Any]:
    """Run the policy behind each floor (and none) on its training run's validation set; the eval JSON."""
    if not taus or not all(0.0 < t < 1.0 for t in taus):
        raise ValueError(f"floor quantiles must be in (0, 1), got {taus}")
    policy, meta = load_policy(policy_path)
    cfg = meta.get("config")
    if not cfg or meta.get("algo") != "grpo":
        raise ValueError(f"{policy_path} carries no GRPO training config; the floor is chosen for GRPO policies")
    vset = validation_set(_traces(meta, trace_dir), int(cfg["seed"]), int(cfg["validation_days"]),
                          int(cfg["validation_minutes"]))
    weights = RewardWeights(**cfg["weights"])  # the training reward, as in the run's own validation
    say = progress or (lambda _msg: None)
    space = policy_space(meta)
    say("the base HPA on the validation set..." if space.hpa_based else "tuning the HPA on the validation set...")
    reference = reference_hpa(vset, space)
    rows: dict[str, dict[str, Any]] = {}
    for tau in (*taus, None):
        say(f"policy behind floor {tau_label(tau)}...")
        v = validate(policy, vset, weights, floor=SafetyFloor(tau) if tau is not None else None,
                     space=space)
        rows[tau_label(tau)] = {**v, "families_no_worse": pareto_wins(v, reference)}
    chosen = choose_tau(rows, reference)
    results = {f"grpo_floor_{k}": {m: rows[k][m] for m in ("replica_hours", "slo_violation_min", "mean_reward",
                                                            "families_no_worse")} for k in rows}
    results["hpa_tuned"] = {m: reference[m] for m in ("replica_hours", "slo_violation_min", "mean_reward")}
    return {
        "eval": "scaling-floor",
        "dataset": f"validation set of {policy_path.name}'s training run ({len(vset)} days: "
                   f"{cfg['validation_days']} of {', '.join(cfg.get('traces') or [])} training splits, one per "
                   "training family)",
        "config": {
            "policy": policy_path.name, "selected_iteration": meta.get("selected_iteration"),
            "trained_tau": (meta.get("floor") or {}).get("trained_tau", (meta.get("floor") or {}).get("tau")),
            "taus": list(taus), "rule": RULE, "hpa_tuned_target": reference["target"],
            "reward_weights": cfg["weights"], "seed": cfg["seed"],
            "metrics": "replica_hours, slo_violation_min summed over the validation days; mean_reward (training "
                       "reward) averaged; families_no_worse = validation families where both are <= the tuned HPA's",
        },
        "results": results,
        "families": {"hpa_tuned": reference["families"], **{f"grpo_floor_{k}": r["families"] for k, r in rows.items()}},
        "chosen_tau": float(chosen),
        "reason": (f"floor {chosen}: no worse than the tuned HPA on {rows[chosen]['families_no_worse']} of "
                   f"{len(reference['families'])} validation families, {rows[chosen]['replica_hours']} replica-hours "
                   f"({RULE})"),
    }


def apply_tau(policy_path: Path, report: dict[str, Any]) -> dict[str, Any]:
    """Write the chosen tau (and the sweep that chose it) into the policy's metadata; returns the new floor entry."""
    blob = torch.load(policy_path, map_location="cpu", weights_only=False)
    meta = json.loads(blob["meta"])
    old = meta.get("floor") or {}
    floor = SafetyFloor(float(report["chosen_tau"]))
    meta["floor"] = {"tau": floor.tau, "utilisation": floor.utilisation,
                     "trained_tau": old.get("trained_tau", old.get("tau")),
                     "chosen_by": "keel eval scaling-floor --apply", "rule": RULE,
                     "sweep": {"results": report["results"], "families": report["families"],
                               "hpa_tuned_target": report["config"]["hpa_tuned_target"]}}
    blob["meta"] = json.dumps(meta)
    tmp = policy_path.with_suffix(".tmp")
    torch.save(blob, tmp)
    tmp.replace(policy_path)
    return dict(meta["floor"])
