"""The scaling policy's model card (Markdown) and training-curve plot, built from the saved metadata and evals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from finetune.policy.action_space import ActionSpace
from finetune.policy.families import HELDOUT_FAMILIES, TRAIN_FAMILIES
from finetune.policy.features import FORECAST_FEATURES, POLICY_FEATURES
from finetune.policy.reward import SLO_UTILISATION, RewardWeights
from finetune.policy.traffic import PEAK_FRACTION, REFERENCE_QUANTILE

METRICS = ("replica_hours", "slo_violation_min", "p99_ms", "actions", "mean_reward")
METHODS = ("grpo", "grpo_nofloor", "forecast", "ppo", "hpa", "hpa_tuned", "static")


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
        ref = (meta.get("validation_default_hpa") or {}).get(key)
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


def _length(cfg: dict[str, Any]) -> str:
    if cfg.get("budget"):
        return f"until {cfg['budget']:,} simulated minutes are spent, at most {cfg['iterations']} iterations"
    return f"for {cfg['iterations']} iterations"


def _selection(meta: dict[str, Any]) -> str:
    rule = meta.get("select", "best")
    t = meta.get("validation_tuned_hpa") or {}
    if rule == "pareto" and t.get("base"):
        return (f"the checkpoint no worse than the HPA it corrects (target {t.get('target')}) on both "
                "replica-hours and SLO-violation minutes on the most validation families, ties to the fewest "
                "replica-hours")
    if rule == "pareto":
        return (f"the checkpoint no worse than the tuned HPA (target {t.get('target')}) on both replica-hours and "
                "SLO-violation minutes on the most validation families, then one with no more violation minutes "
                "than the tuned HPA over all validation days, then the fewest replica-hours")
    if rule == "hpa":
        t = meta.get("validation_tuned_hpa") or {}
        return (f"on the validation days, the fewest replica-hours among the checkpoints with no more SLO-violation "
                f"minutes than the tuned HPA there (target {t.get('target')}, {t.get('slo_violation_min')} minutes)")
    return "the last checkpoint" if rule == "last" else "best validation reward"


def _wins(v: dict[str, Any], tuned: dict[str, Any]) -> str:
    ref, fams = tuned.get("families") or {}, v.get("families") or {}
    if not ref or not fams:
        return "-"
    n = sum(1 for k, f in fams.items() if k in ref and f["replica_hours"] <= ref[k]["replica_hours"]
            and f["slo_violation_min"] <= ref[k]["slo_violation_min"])
    return f"{n} of {len(fams)}"


def _floor_use(floor: dict[str, Any]) -> str:
    trained = floor.get("trained_tau", floor["tau"])
    if not floor.get("sweep"):
        return "in training and in use. "
    how = "in training and in use" if trained == floor["tau"] else f"in use (training used the {trained:g} quantile)"
    return f"{how}; the quantile is chosen on the validation days (below). "


def _floor_sweep(floor: dict[str, Any]) -> list[str]:
    """The floor-quantile table on the validation days: the choice and the floor's ablation."""
    sweep = floor.get("sweep")
    if not sweep:
        return []
    ref = sweep["families"]["hpa_tuned"]
    fams = list(ref)
    lines = ["", "Safety floor quantile (`keel eval scaling-floor`), the shipped weights on the same validation days "
             "behind each floor and with none (the floor's ablation), replica-hours / SLO-violation minutes; rule: "
             f"{floor.get('rule', '')}; chosen: {floor['tau']:g}.", "",
             "| floor tau | " + " | ".join(fams) + " | total | families no worse than tuned HPA |",
             "|---|" + "---|" * (len(fams) + 2)]
    for name, r in sweep["results"].items():
        f = sweep["families"][name]
        label = (f"tuned HPA (target {sweep['hpa_tuned_target']})" if name == "hpa_tuned"
                 else name.removeprefix("grpo_floor_").replace("none", "none (no floor)"))
        if label == f"{floor['tau']:g}":
            label = f"**{label}** (shipped)"
        cells = [f"{f[k]['replica_hours']:.1f} / {f[k]['slo_violation_min']:.0f}" for k in fams]
        wins = "-" if name == "hpa_tuned" else f"{r['families_no_worse']} of {len(fams)}"
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {r['replica_hours']:.1f} / "
                     f"{r['slo_violation_min']:.0f} | {wins} |")
    return lines


def _table(results: dict[str, dict[str, float]]) -> list[str]:
    lines = ["| method | " + " | ".join(METRICS) + " |", "|---|" + "---|" * len(METRICS)]
    for m in METHODS:
        if m in results:
            lines.append(f"| {m} | " + " | ".join(str(results[m].get(k)) for k in METRICS) + " |")
    return lines


def _versus(r: dict[str, dict[str, float]]) -> str:
    g, t, d, p = r["grpo"], r["hpa_tuned"], r["hpa"], r["ppo"]
    rh = 100.0 * (g["replica_hours"] / t["replica_hours"] - 1.0)
    pareto = g["replica_hours"] <= t["replica_hours"] and g["slo_violation_min"] <= t["slo_violation_min"]
    f = r.get("forecast")
    head = (f"GRPO Pareto no-worse than the tuned HPA: {'yes' if pareto else 'NO'}"
            + (f" (forecast-sized reference: {f['replica_hours']} replica-hours / {f['slo_violation_min']} "
               "violation minutes)" if f else "") + ". ")
    fewer = d["slo_violation_min"] / g["slo_violation_min"] if g["slo_violation_min"] else float("inf")
    return head + (f"GRPO vs tuned HPA: replica-hours {rh:+.1f} %, SLO-violation minutes {g['slo_violation_min']} vs "
            f"{t['slo_violation_min']}, scaling actions {g['actions']} vs {t['actions']}; "
            f"{fewer:.1f}x fewer violation minutes than the default HPA. GRPO vs PPO: replica-hours "
            f"{g['replica_hours']} vs {p['replica_hours']}, SLO-violation minutes {g['slo_violation_min']} vs "
            f"{p['slo_violation_min']}, mean reward {g['mean_reward']} vs {p['mean_reward']} ({_ppo_verdict(g, p)}).")


def _ppo_verdict(g: dict[str, float], p: dict[str, float]) -> str:
    """Better than PPO: dominance on both axes decides; otherwise the higher mean (evaluation) reward."""
    if g["replica_hours"] <= p["replica_hours"] and g["slo_violation_min"] <= p["slo_violation_min"]:
        return "GRPO dominates"
    if p["replica_hours"] <= g["replica_hours"] and p["slo_violation_min"] <= g["slo_violation_min"]:
        return "PPO dominates"
    return "neither dominates; " + ("GRPO" if g["mean_reward"] > p["mean_reward"] else "PPO") + " has the higher reward"


def _space(meta: dict[str, Any]) -> ActionSpace:
    return ActionSpace.from_meta(meta.get("action_space"))


def _actions_text(meta: dict[str, Any]) -> str:
    space = _space(meta)
    if not space.hpa_based:
        return f"{space.n} actions ({', '.join(space.names)} replicas, clamped to the service's bounds). "
    if space.kind == "capped":
        return (f"{space.n} sizing rules ({', '.join(f'`{n}`' for n in space.names)}) applied to the decision of a "
                f"Kubernetes HPA at the tuned CPU target {space.hpa_target} that runs beside it on the same metrics "
                "and sees the replicas that ran (`finetune/policy/action_space.py`): `hpa` is its decision; "
                "`min:TAU:U` caps it at the replicas that serve the short-term forecast's TAU quantile of the next "
                "5 minutes' peak demand at utilisation U (releasing what the HPA's 5-minute scale-down window and "
                "tolerance band keep); `max:TAU:U` lifts it to that count; clamped to the service's bounds. "
                f"{len(space.extra_features)} more inputs give the HPA's decision relative to now and each rule's "
                "count against it. ")
    return (f"{space.n} corrections ({', '.join(space.names)}) to the decision of a Kubernetes HPA at the tuned CPU "
            f"target {space.hpa_target} that runs beside it on the same metrics (residual policy learning, "
            "`finetune/policy/action_space.py`): replicas = the HPA's decision + d, clamped to the service's bounds"
            + ("; the HPA runs on its own decisions, so d is an offset from its trajectory that does not feed back "
               "into it" if space.anchor == "own" else "") + "; "
            f"{len(space.extra_features)} more inputs give the HPA's decision relative to now. ")


def _warm_start(meta: dict[str, Any], g: dict[str, Any]) -> str:
    space = _space(meta)
    if space.hpa_based:
        text = (f"- Warm start: {meta['bc'].get('warm_start', 'd = 0')}, whatever the input -- its greedy decisions "
                "(action 0) are the tuned HPA's, so iteration 0 is the tuned HPA itself (validated and selectable like "
                "any checkpoint); it is also the KL reference")
    else:
        text = ("- Warm start: behaviour cloning of a proportional rule (ceil(demand / 0.6), demand = CPU in use "
                "unless the service is saturated, then what it was asked to serve), "
                f"{meta['bc']['states']} states, accuracy {meta['bc']['accuracy']}; it is also the KL reference")
    return text + (f" (refreshed to the current policy every {g['ref_update_every']} iterations)."
                   if g.get("ref_update_every") else ".")


def _command(meta: dict[str, Any]) -> str:
    cfg, cmd = meta["config"], f"keel finetune policy --seed {meta['seed']}"
    if not _space(meta).hpa_based:
        return cmd
    cmd += f" --iterations {cfg['iterations']} --action-space {cfg.get('action_space', 'residual')}"
    if cfg.get("residual_anchor", "replicas") != "replicas":
        cmd += f" --residual-anchor {cfg['residual_anchor']}"
    if cfg["grpo"]["continuation"] != "reference":
        cmd += f" --continuation {cfg['grpo']['continuation']}"
    if cfg.get("floor_tau") not in (None, 0.5):
        cmd += f" --floor-tau {cfg['floor_tau']:g}"
    if cfg["weights"]["slo"] != 4.0:
        cmd += f" --slo-weight {cfg['weights']['slo']:g}"
    if cfg.get("eval_every") != 25:
        cmd += f" --eval-every {cfg['eval_every']}"
    g = cfg["grpo"]
    if g.get("reward") == "counterfactual":
        cmd += (f" --reward counterfactual --hold {g['hold']} --horizon {g['horizon']} --violation-penalty "
                f"{g['violation_penalty']:g} --violation-credit {g['violation_credit']:g} --entropy-coef "
                f"{g['entropy_coef']:g} --kl-coef {g['kl_coef']:g}" + (" --cover" if g.get("cover") else "")
                + (f" --futures {g['futures']} --future-sigma {g['future_sigma']:g}" if g.get("futures", 1) > 1
                   else ""))
    if cfg.get("action_space") == "capped" and cfg.get("capped_rules"):
        cmd += " --capped-rules " + ",".join(cfg["capped_rules"])
    if cfg.get("budget") and cfg["budget"] != 1_200_000:
        cmd += f" --budget {cfg['budget']}"
    return cmd


def _grpo_text(g: dict[str, Any]) -> str:
    common = (f"advantage (r - mean) / std in the group, clip {g['clip']}, KL coefficient {g['kl_coef']}, "
              f"entropy bonus {g['entropy_coef']}, Adam lr {g['lr']}, {g['epochs']} epochs per batch of "
              f"{g['envs'] * g['decisions_per_env']} groups; no value network.")
    if g.get("reward") != "counterfactual":
        return (f"- GRPO: group size {g['group_size']}, horizon {g['horizon']} min ({g['continuation']} after the "
                f"first action), " + common)
    return (f"- GRPO: group size {g['group_size']} from one cloned state, scored against the HPA itself: from the "
            f"same clone the HPA alone (action 0) is rolled over the same {g['horizon']} minutes, each sampled "
            f"action is held {g['hold']} minutes (re-applied to each minute's HPA decision) and then the HPA "
            "decides alone; a member's return is the replica-minutes it saves against that counterfactual, minus "
            f"{g['violation_penalty']:g} replica-minutes per SLO-violation minute above the counterfactual's, plus "
            f"{g['violation_credit']:g} per violation minute below it (`finetune/policy/grpo.py`)"
            + ("; every action the floor allows is in every group (the last samples give way)" if g.get("cover")
               else "")
            + (f"; each member is scored on {g['futures']} futures (the recorded load and copies shifted by a "
               f"random factor, log-sd {g['future_sigma']:g}) and its return is the mean" if g.get("futures", 1) > 1
               else "") + "; " + common)


def _residual_note(meta: dict[str, Any], c: dict[str, Any]) -> str:
    """Which HPA a residual policy corrects, against the eval's tuned HPA."""
    space = _space(meta)
    if not space.hpa_based:
        return ""
    same = c.get("hpa_tuned_target") == space.hpa_target
    base = meta.get("residual_hpa") or {}
    how = (f"chosen as this eval chooses `hpa_tuned`, on the {base['source']}" if base.get("procedure")
           else "tuned on the validation days")
    return (f" The HPA that `grpo` corrects runs at CPU target {space.hpa_target} ({how}); "
            + ("the same target as `hpa_tuned` here." if same else
               f"`hpa_tuned` here is tuned by this eval to {c.get('hpa_tuned_target')}, so the rows differ even "
               "where `grpo` makes no correction."))


def _choices_note(c: dict[str, Any]) -> str:
    """How often the policy chose each action in this eval, and how often its count differed from action 0's."""
    ch = c.get("grpo_choices")
    if not ch:
        return ""
    total = sum(ch["minutes_per_action"].values())
    used = ", ".join(f"`{a}` {m}" for a, m in ch["minutes_per_action"].items())
    return (f" GRPO's choices (minutes of {total}): {used}; its replica count differed from `{ch['action0']}`'s "
            f"in {ch['minutes_unlike_action0']} minutes.")


def _selected_note(meta: dict[str, Any]) -> str:
    if _space(meta).hpa_based and meta.get("selected_iteration") == 0:
        return (" Iteration 0 was selected: nothing learned survived the validation rule, so the shipped "
                "policy decides exactly as the tuned HPA does (action 0 everywhere).")
    return ""


def _compact(evals: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """One row per (trace, service): replica-hours / SLO-violation minutes of each method."""
    methods = METHODS
    lines = ["| trace | service | " + " | ".join(methods) + " |", "|---|---|" + "---|" * len(methods)]
    for _, p in evals:
        r = p["results"]
        cells = [f"{r[m]['replica_hours']:.0f} / {r[m]['slo_violation_min']}" for m in methods]
        lines.append(f"| {p['dataset'].split(' ')[0]} | {p['config']['service']} | " + " | ".join(cells) + " |")
    return lines


def render(meta: dict[str, Any], ppo_meta: dict[str, Any] | None, evals: list[tuple[str, dict[str, Any]]],
           curve_png: str, services: list[tuple[str, dict[str, Any]]] | None = None) -> str:
    cfg = meta["config"]
    g = cfg["grpo"]
    lines = [
        "# Scaling policy model card",
        "",
        "`scaling_policy.pt` backs the `recommend_scaling` tool: a small MLP (two tanh layers of "
        f"{meta['hidden']}) mapping {len(POLICY_FEATURES)} normalised features of one service (among them "
        f"{len(FORECAST_FEATURES)} from the short-term load forecast of `runtime/forecast.py`: its quantiles as "
        "utilisation of the current replicas and its recent error) to a distribution over "
        + _actions_text(meta)
        + (f"Actions leaving fewer replicas than the forecast's {meta['floor']['tau']:g} quantile of the next 5 "
           f"minutes' peak demand needs at {meta['floor']['utilisation']:.0%} utilisation"
           + (" (or than the HPA's own decision, when that is lower: the floor bounds the corrections, never the "
              "HPA)" if _space(meta).hpa_based else "")
           + " are masked at decision time (the safety floor, `finetune/policy/safety.py`), "
           + _floor_use(meta["floor"]) if meta.get("floor") else "")
        + "Trained with GRPO on the simulated cluster; it never acts, it recommends.",
        "",
        "## Training",
        "",
        f"- Reproduce: `{_command(meta)}` (GRPO {_length(cfg)}; then "
        "`keel finetune policy --algo ppo` for the PPO baseline at the same budget"
        + ("; `keel eval scaling-floor --apply` chooses the floor's quantile" if (meta.get("floor") or {}).get(
            "sweep") else "") + ").",
        f"- Seed {meta['seed']}; torch {meta['torch']} on CPU, one thread; {meta['iterations']} iterations, "
        f"{meta['sim_steps']:,} simulated minutes (rollouts included), {meta['train_wall_s'] / 60:.1f} min of "
        "training wall time (warm start and iterations; validation runs excluded"
        + (f"; {meta['run_wall_s'] / 60:.1f} min for the " + (
            "whole command" if meta.get("resumed_at") is None
            else f"command that resumed it from its checkpoint at iteration {meta['resumed_at']}")
           if "run_wall_s" in meta else "")
        + f"). Checkpoints every {cfg['checkpoint_every']} iterations; a resumed run is identical to an "
        "uninterrupted one. The shipped weights are those of iteration "
        f"{meta.get('selected_iteration', meta['iterations'])} ({_selection(meta)})." + _selected_note(meta)
        + (f" The run was {meta['stopped_early']}." if meta.get("stopped_early") else ""),
        f"- Data: {cfg.get('family_share', 0):.0%} of episodes from synthetic traffic families "
        f"({', '.join(TRAIN_FAMILIES)}; `finetune/policy/families.py`), the rest from the training splits of "
        f"{', '.join(cfg['traces'])} (NASA July 1995: weeks 1-3; week 4 is never seen); "
        f"{cfg.get('warp_share', 0):.0%} of segments time-warped (0.7-1.4x speed with a slow bend). Each episode "
        "controls a random service (all eleven) on a random segment, rescaled, with training-only augmentation "
        "(load level x0.5-1.3, short bursts, flash crowds, scheduled spikes every 15/20/30/60 minutes). No Azure "
        f"data is used; the held-out families ({', '.join(HELDOUT_FAMILIES)}) are used neither in training nor "
        "in checkpoint selection.",
        f"- Rescaling: the trace's p{REFERENCE_QUANTILE:g} minute offers the service {PEAK_FRACTION:.0%} of its "
        "capacity at max replicas; other services are provisioned statically for the peak at 50 %.",
        _warm_start(meta, g),
        _grpo_text(g),
        ("- Validation reward weights (the group returns above do not use them): "
         if g.get("reward") == "counterfactual" else "- Training reward weights: ")
        + f"{json.dumps(cfg['weights'])}; the evals' mean reward and the tuned HPA's "
        f"grid search use the default weights {json.dumps(RewardWeights().to_dict())}. SLO = the p99 the "
        f"service's model gives at {SLO_UTILISATION:.0%} utilisation with its callees at 50 % (see "
        "`finetune/policy/reward.py`).",
        "",
        "## Training curve",
        "",
        f"![training curve]({curve_png})",
        "",
        f"Validation: greedy policy behind its floor on {cfg['validation_days']} fixed, un-augmented days of the "
        "training split and one day of each training family drawn with validation seeds (frontend, cartservice, "
        "checkoutservice, recommendationservice in turn); neither the NASA test week nor the Azure day.",
        "",
        "| iteration | mean reward | replica-hours | SLO-violation min | families no worse than tuned HPA |",
        "|---|---|---|---|---|",
    ]
    tuned = meta.get("validation_tuned_hpa") or {}
    for v in meta["validation"]:
        wins = _wins(v, tuned)
        lines.append(f"| {v['iteration']} | {v['mean_reward']} | {v['replica_hours']} | {v['slo_violation_min']} "
                     f"| {wins} |")
    d = meta.get("validation_default_hpa")
    if d:
        lines.append(f"| default HPA | {d['mean_reward']} | {d['replica_hours']} | {d['slo_violation_min']} |")
    t = meta.get("validation_tuned_hpa")
    if t:
        lines.append(f"| tuned HPA (target {t['target']}) | - | {t['replica_hours']} | {t['slo_violation_min']} |")
    lines += ["", "Mean reward in this table is the training reward."]
    sel = next((v for v in meta["validation"] if v["iteration"] == meta.get("selected_iteration")), None)
    if sel and sel.get("families") and tuned.get("families"):
        lines += ["", f"Per validation family, shipped iteration {sel['iteration']} against the tuned HPA "
                  "(replica-hours / SLO-violation minutes):", "", "| family | grpo | tuned HPA | no worse on both |",
                  "|---|---|---|---|"]
        for fam, f in sel["families"].items():
            h = tuned["families"].get(fam, {})
            ok = f["replica_hours"] <= h.get("replica_hours", -1) and f["slo_violation_min"] <= h.get(
                "slo_violation_min", -1)
            lines.append(f"| {fam} | {f['replica_hours']:.1f} / {f['slo_violation_min']:.0f} | "
                         f"{h.get('replica_hours', 0):.1f} / {h.get('slo_violation_min', 0):.0f} | "
                         f"{'yes' if ok else 'no'} |")
    lines += _floor_sweep(meta.get("floor") or {})
    if ppo_meta:
        extra = len(_space(meta).extra_features)
        same = ppo_meta.get("features") == meta.get("features", [])[: len(meta.get("features", [])) - extra]
        lines += ["", "PPO baseline (`scaling_policy_ppo.pt`): " + (
                  "same features, network, warm start, reward and selection" if same else
                  f"an earlier run on {len(ppo_meta.get('features', []))} features (no forecast features, no safety "
                  "floor, NASA training weeks only, selected by the `hpa` rule); the eval runs it as it was")
                  + f"; GAE, separate value network; {ppo_meta['iterations']} iterations, "
                  f"{ppo_meta['sim_steps']:,} simulated minutes"
                  + (" (the same budget: both stop at the first whole iteration past it), " if same else ", ")
                  + f"{ppo_meta['train_wall_s'] / 60:.1f} min, selected iteration "
                  f"{ppo_meta.get('selected_iteration', ppo_meta['iterations'])}; "
                  f"config {json.dumps(ppo_meta['config']['ppo'])}."]
    lines += ["", "## Evaluation", ""]
    if not evals:
        lines.append("No evaluation recorded (the shared traces were absent when this card was written).")
    for cmd, payload in evals:
        c = payload["config"]
        lines += [f"### {payload['dataset']}, {c['service']}", "", f"`{cmd}`", "", *_table(payload["results"]), "",
                  f"Tuned HPA target {c['hpa_tuned_target']} ({c['hpa_tuning']['criterion']} on "
                  f"{c['hpa_tuning']['source']}); static {c['static_replicas']} replicas; SLO {c['slo_p99_ms']} ms; "
                  f"{c['rescaling']}.", "",
                  _versus(payload["results"]) + _residual_note(meta, c) + _choices_note(c), "",
                  "Targets: " + ", ".join(f"{k} {'met' if ok else 'MISSED'}" for k, ok in c["targets"].items()), ""]
    if services:
        lines += ["### Other services (replica-hours / SLO-violation minutes)", "",
                  "Same commands with `--service NAME`.", "", *_compact(services), ""]
    lines += [
        "## Limits",
        "",
        "- The simulator has no pod start-up delay and no per-request noise beyond the trace's own; "
        "HPA's 15 s loop runs 4x per simulated minute on the minute's metrics.",
        "- One service is controlled at a time; the others are provisioned for the peak.",
        "- Most SLO-violation minutes on these traces follow one-minute load jumps of about 2x (NASA's per-minute "
        "counts are small and bursty; Azure has top-of-the-hour spikes). A controller acting on the last "
        "minute's metrics cannot see them coming, so every causal method pays for them with idle headroom; "
        "this, not the learning, bounds how far below the tuned HPA's replica-hours the policy can go. "
        "`keel eval scaling-frontier` measures that bound: controllers sized each minute to a forecast of the "
        "next minute's load (fit on the training weeks; past load, hour and day before) swept over their risk "
        "setting on the test week.",
        "- The policy sees demand (CPU in use scaled by requests arriving over requests served) and the load one "
        "hour before the coming "
        "minute, so it can size a saturated service in one step and meet load that recurs every hour; how much "
        "it uses them is learned from the training episodes, where saturation and scheduled spikes are rare.",
        "- GRPO's per-group standardised advantage weighs a rare SLO violation like a common small saving, so a "
        "group whose returns cover one minute ranks actions almost regardless of the reward weights. Holding the "
        "first action for the whole 30-minute horizon puts cost and violations in most groups; measured on the "
        "validation days, a 10-minute hold or a greedy-policy continuation gave a worse cost/violation trade-off, "
        "a 60-minute hold or a smaller KL coefficient the same one. PPO with GAE is a strong baseline here.",
        "- The targets pull against each other: the violation budget set by the tuned HPA on the training weeks "
        "fixes how much headroom the policy keeps, and the same headroom is what the bursty trace needs more of. "
        "The shipped trade-off is chosen on training data only, never on the test week or the Azure day.",
        "- Time-of-day features come from the episode's clock (random for synthetic families, and time-warped "
        "segments break the daily period), so the policy cannot lean on the clock; it leans on the load, trend, "
        "volatility and forecast features.",
        "- The safety floor reads the service's own past demand only. It bounds how low the policy may go, not "
        "how many violations it takes: a jump larger than the recent history's spread still breaks through it, "
        "and a floor at a high quantile costs replica-hours (the `forecast` rows above are the floor alone; "
        "`grpo_nofloor` is the same network without it).",
    ]
    if _space(meta).kind == "capped":
        lines.append(
            "- Capped rules: the policy chooses, each minute, how far below (or above) the HPA's decision to go, "
            "within what the short-term forecast says the next minutes need. It cannot learn anything the rules "
            "cannot express: where the HPA itself is short of replicas (a jump larger than its headroom) only the "
            "`max` rules help, and they are dear; the savings come from the replicas the HPA keeps after the "
            "load has fallen.")
    elif _space(meta).hpa_based and g.get("reward") == "counterfactual":
        lines.append(
            "- Residual corrections scored against the HPA's own continuation: the standardised advantage ranks a "
            "group's members, so a correction is reinforced in the states where it beats the HPA more often than "
            "not, whatever the size of the violation penalty; a cut held a few minutes on an HPA that keeps the "
            "count it is given (`--residual-anchor replicas`) looks safe in the groups and compounds in closed "
            "loop, while held longer or as an offset from the HPA's own trajectory (`own`) it loses to the HPA in "
            "most sampled states, the sampling distribution concentrates on d = 0 and the greedy policy is the HPA "
            "on every validation day.")
    elif _space(meta).hpa_based:
        lines.append(
            "- Residual corrections: a group of one-minute deviations handed back to the HPA (`reference`) makes a "
            "cut look almost free, and the standardised advantage turns that small saving into a unit signal in "
            "most groups, so the policy learns to cut nearly everywhere (more violation minutes on every "
            "validation family); with rollouts that follow the current policy (`policy`) or hold the correction "
            "over the horizon (`repeat`) the sampling distribution concentrates within a few dozen iterations, on "
            "d = 0 or on corrections that are cheaper than the HPA with more violation minutes. Iteration 0 ties "
            "the tuned HPA on every validation family, so the selection rule ships a learned correction only if "
            "it is no worse than the HPA on both figures on all of them.")
    return "\n".join(lines) + "\n"
