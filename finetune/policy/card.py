"""The scaling policy's model card (Markdown) and training-curve plot, built from the saved metadata and evals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from finetune.policy.env import ACTION_NAMES
from finetune.policy.features import FEATURES
from finetune.policy.reward import SLO_UTILISATION
from finetune.policy.traffic import PEAK_FRACTION, REFERENCE_QUANTILE

METRICS = ("replica_hours", "slo_violation_min", "p99_ms", "actions", "mean_reward")


def plot_curve(meta: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    val = meta["validation"]
    its = [v["iteration"] for v in val]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for ax, key, label in zip(axes, ("mean_reward", "replica_hours", "slo_violation_min"),
                              ("validation mean reward", "validation replica-hours", "validation SLO-violation min"),
                              strict=True):
        ax.plot(its, [v[key] for v in val], marker="o", ms=3, label=meta["algo"])
        ref = meta.get("validation_default_hpa", {}).get(key)
        if ref is not None:
            ax.axhline(ref, color="tab:blue", ls="--", lw=0.8, label="default HPA")
        ax.set_xlabel("iteration")
        ax.set_title(label, fontsize=10)
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _table(results: dict[str, dict[str, float]]) -> list[str]:
    lines = ["| method | " + " | ".join(METRICS) + " |", "|---|" + "---|" * len(METRICS)]
    for m in ("grpo", "ppo", "hpa", "hpa_tuned", "static"):
        if m in results:
            lines.append(f"| {m} | " + " | ".join(str(results[m].get(k)) for k in METRICS) + " |")
    return lines


def render(meta: dict[str, Any], ppo_meta: dict[str, Any] | None, evals: list[tuple[str, dict[str, Any]]],
           curve_png: str) -> str:
    cfg = meta["config"]
    g = cfg["grpo"]
    lines = [
        "# Scaling policy model card",
        "",
        "`scaling_policy.pt` backs the `recommend_scaling` tool: a small MLP (two tanh layers of "
        f"{meta['hidden']}) mapping {len(FEATURES)} normalised features of one service to a distribution over "
        f"{len(ACTION_NAMES)} actions ({', '.join(ACTION_NAMES)} replicas, clamped to the service's bounds). "
        "Trained with GRPO on the simulated cluster; it never acts, it recommends.",
        "",
        "## Training",
        "",
        f"- Reproduce: `keel finetune policy --seed {meta['seed']} --iterations {cfg['iterations']}` "
        "(then `keel finetune policy --algo ppo` for the PPO baseline at the same simulator-step budget).",
        f"- Seed {meta['seed']}; torch {meta['torch']} on CPU, one thread; {meta['iterations']} iterations, "
        f"{meta['sim_steps']:,} simulated minutes (rollouts included), {meta['train_wall_s'] / 60:.1f} min of "
        "training wall time (checkpoints every "
        f"{cfg['checkpoint_every']} iterations; a resumed run is identical to an uninterrupted one).",
        f"- Data: training splits of {', '.join(cfg['traces'])} (NASA July 1995: weeks 1-3; week 4 is never "
        "seen). Each episode controls a random service (all eleven) on a random segment, with training-only "
        "augmentation (load level x0.5-1.3, short bursts, flash crowds). No Azure data is used.",
        f"- Rescaling: the trace's p{REFERENCE_QUANTILE:g} minute offers the service {PEAK_FRACTION:.0%} of its "
        "capacity at max replicas; other services are provisioned statically for the peak at 50 %.",
        f"- Warm start: behaviour cloning of a proportional rule (ceil(replicas x CPU / 0.6)), "
        f"{meta['bc']['states']} states, accuracy {meta['bc']['accuracy']}; it is also the KL reference"
        + (f" (refreshed to the current policy every {g['ref_update_every']} iterations)."
           if g.get("ref_update_every") else "."),
        f"- GRPO: group size {g['group_size']}, horizon {g['horizon']} min ({g['continuation']} after the first "
        f"action), advantage (r - mean) / std in the group, clip {g['clip']}, KL coefficient {g['kl_coef']}, "
        f"entropy bonus {g['entropy_coef']}, Adam lr {g['lr']}, {g['epochs']} epochs per batch of "
        f"{g['envs'] * g['decisions_per_env']} groups; no value network.",
        f"- Reward weights: {json.dumps(cfg['weights'])}; SLO = the p99 the service's model gives at "
        f"{SLO_UTILISATION:.0%} utilisation with its callees at 50 % (see `finetune/policy/reward.py`).",
        "",
        "## Training curve",
        "",
        f"![training curve]({curve_png})",
        "",
        "Validation: greedy policy on fixed, un-augmented days of the training split (4 services).",
        "",
        "| iteration | mean reward | replica-hours | SLO-violation min |",
        "|---|---|---|---|",
    ]
    for v in meta["validation"]:
        lines.append(f"| {v['iteration']} | {v['mean_reward']} | {v['replica_hours']} | {v['slo_violation_min']} |")
    d = meta.get("validation_default_hpa")
    if d:
        lines.append(f"| default HPA | {d['mean_reward']} | {d['replica_hours']} | {d['slo_violation_min']} |")
    if ppo_meta:
        lines += ["", f"PPO baseline: {ppo_meta['iterations']} iterations, {ppo_meta['sim_steps']:,} simulated "
                  f"minutes, {ppo_meta['train_wall_s'] / 60:.1f} min; config {json.dumps(ppo_meta['config']['ppo'])}."]
    lines += ["", "## Evaluation", ""]
    if not evals:
        lines.append("No evaluation recorded (the shared traces were absent when this card was written).")
    for cmd, payload in evals:
        c = payload["config"]
        lines += [f"### {payload['dataset']}, {c['service']}", "", f"`{cmd}`", "", *_table(payload["results"]), "",
                  f"Tuned HPA target {c['hpa_tuned_target']} ({c['hpa_tuning']['criterion']} on "
                  f"{c['hpa_tuning']['source']}); static {c['static_replicas']} replicas; SLO {c['slo_p99_ms']} ms; "
                  f"{c['rescaling']}.", "",
                  "Targets: " + ", ".join(f"{k} {'met' if ok else 'MISSED'}" for k, ok in c["targets"].items()), ""]
    lines += [
        "## Limits",
        "",
        "- The simulator has no pod start-up delay and no per-request noise beyond the trace's own; "
        "HPA's 15 s loop runs 4x per simulated minute on the minute's metrics.",
        "- One service is controlled at a time; the others are provisioned for the peak.",
        "- Time-of-day features come from the training trace's clock; traffic with another daily shape relies "
        "on the load, trend and volatility features.",
    ]
    return "\n".join(lines) + "\n"
