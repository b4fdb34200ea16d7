"""`keel finetune policy`: reproduce the shipped scaling policy (GRPO) or its PPO baseline; resumable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from cli.common import console, fail
from config.settings import get_settings

ARTIFACTS = Path(__file__).resolve().parents[1] / "finetune" / "artifacts"
DEFAULT_TRACE = Path(__file__).resolve().parents[2] / "shared" / "data" / "traces" / "nasa_http_1995_jul.csv"
AZURE_TOTAL = DEFAULT_TRACE.parent / "azure_functions_2019_d01_sample1000_total.csv"
CARD_SERVICES = ("frontend", "cartservice", "checkoutservice", "recommendationservice")


def policy(
    algo: str = typer.Option("grpo", "--algo", help="grpo (the shipped policy) | ppo (the baseline)"),
    iterations: int = typer.Option(1000, "--iterations", min=1,
                                   help="most GRPO iterations (GRPO stops earlier once the budget is spent)"),
    budget: int | None = typer.Option(None, "--budget", min=1,
                                      help="simulated minutes each algorithm trains for (default 1,200,000)"),
    seed: int = typer.Option(0, "--seed", help="run seed (episodes, sampling, torch)"),
    floor_tau: float = typer.Option(0.5, "--floor-tau", min=0.0, max=0.999,
                                    help="GRPO's safety floor: the short-term forecast quantile it sizes to "
                                         "(0 = no floor)"),
    action_space: str = typer.Option("relative", "--action-space",
                                     help="relative (replica changes 0, +-1, +-2, +-4) | residual (corrections "
                                          "-2..+2 to a tuned HPA's own decision; iteration 0 is that HPA) | capped "
                                          "(sizing rules on that HPA's decision: itself, capped at or lifted to "
                                          "what the short-term forecast needs)"),
    residual_hpa_target: float | None = typer.Option(None, "--residual-hpa-target", min=0.05, max=1.5,
                                                     help="the residual space's HPA CPU target (default: the "
                                                          "target keel eval scaling tunes for hpa_tuned on the "
                                                          "training trace's training split)"),
    residual_anchor: str = typer.Option("replicas", "--residual-anchor",
                                        help="the residual HPA's utilisation is over: replicas (the count that ran; "
                                             "corrections feed back into it) | own (its own decisions; a correction "
                                             "is an offset from its trajectory)"),
    capped_rules: str | None = typer.Option(None, "--capped-rules",
                                            help="capped space: comma-separated sizing rules, 'hpa' first, then "
                                                 "min:TAU:U | max:TAU:U (default: "
                                                 "hpa,min:0.97:0.75,min:0.9:0.75,max:0.9:0.85,max:0.97:0.75)"),
    slo_weight: float | None = typer.Option(None, "--slo-weight", min=0.0,
                                            help="training reward's weight per SLO-violation minute "
                                                 "(default 4, the shipped policy's)"),
    continuation: str | None = typer.Option(None, "--continuation",
                                            help="GRPO rollouts after the first minute: hold | track | repeat | "
                                                 "reference | policy (default: hold; residual: reference)"),
    reward: str = typer.Option("absolute", "--reward",
                               help="GRPO group returns: absolute (the training reward) | counterfactual (residual "
                                    "only: replica-minutes saved against the HPA's own continuation from the same "
                                    "state, violation minutes above it penalised)"),
    hold: int = typer.Option(5, "--hold", min=1,
                             help="counterfactual reward: minutes a sampled correction is held before the HPA "
                                  "decides alone"),
    horizon: int | None = typer.Option(None, "--horizon", min=1, help="GRPO rollout minutes (default 30)"),
    violation_penalty: float = typer.Option(40.0, "--violation-penalty", min=0.0,
                                            help="counterfactual reward: replica-minutes per violation minute "
                                                 "above the HPA's"),
    violation_credit: float = typer.Option(10.0, "--violation-credit", min=0.0,
                                           help="counterfactual reward: replica-minutes per violation minute "
                                                "below the HPA's"),
    futures: int = typer.Option(1, "--futures", min=1,
                                help="counterfactual reward: futures each member is scored on (the recorded load "
                                     "and perturbed copies; its return is the mean)"),
    future_sigma: float = typer.Option(0.15, "--future-sigma", min=0.0,
                                       help="counterfactual reward: log-sd of a perturbed future's load shift"),
    cover: bool = typer.Option(False, "--cover/--no-cover",
                               help="counterfactual reward: every allowed correction at least once per group"),
    entropy_coef: float | None = typer.Option(None, "--entropy-coef", min=0.0,
                                              help="GRPO entropy bonus (default 0.01)"),
    kl_coef: float | None = typer.Option(None, "--kl-coef", min=0.0,
                                         help="GRPO KL penalty to the reference policy (default 0.02)"),
    eval_every: int | None = typer.Option(None, "--eval-every", min=1,
                                          help="iterations between validations (selectable checkpoints; default 25)"),
    trace: list[Path] = typer.Option([], "--trace", help="training trace(s) (default: NASA July 1995)"),
    work_dir: Path | None = typer.Option(None, "--work-dir", help="checkpoints (default $KEEL_HOME/finetune/policy)"),
    out: Path | None = typer.Option(None, "--out", help="policy file (default finetune/artifacts/...)"),
    resume: bool = typer.Option(True, "--resume/--no-resume", help="continue from the work dir's checkpoint"),
    ray: str | None = typer.Option(None, "--ray", help="Ray cluster address for GRPO rollouts (default in-process)"),
    card: bool = typer.Option(True, "--card/--no-card", help="write the model card (with evals) afterwards"),
    card_only: bool = typer.Option(False, "--card-only", help="only rebuild the model card from the saved policies"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="show a progress bar"),
    card_service: list[str] = typer.Option([], "--card-service",
                                           help=f"services the card evaluates (default: {', '.join(CARD_SERVICES)})"),
) -> None:
    """Train the replica-scaling policy on the simulator (checkpointed; rerun the same command to resume)."""
    from finetune.policy.train import ALGOS, TrainConfig

    if algo not in ALGOS:
        fail(f"--algo: got {algo!r}; allowed: {', '.join(ALGOS)}")
    grpo_out = ARTIFACTS / "scaling_policy.pt"
    target = out or (grpo_out if algo == "grpo" else ARTIFACTS / "scaling_policy_ppo.pt")
    if not card_only:
        traces = tuple(str(p) for p in (trace or [DEFAULT_TRACE]))
        missing = [p for p in traces if not Path(p).exists()]
        if missing:
            fail(f"--trace: file not found: {', '.join(missing)}")
        if budget is None:
            from finetune.policy.train import DEFAULT_BUDGET

            budget = DEFAULT_BUDGET
        rollout_fn = None
        if ray:
            if algo != "grpo":
                fail("--ray fans out GRPO rollouts only; drop it for --algo ppo")
            from finetune.policy.distributed import ray_rollouts

            try:
                rollout_fn = ray_rollouts(ray)
            except RuntimeError as e:
                fail(str(e))
        from finetune.policy.action_space import KINDS

        if action_space not in KINDS:
            fail(f"--action-space: got {action_space!r}; allowed: {', '.join(KINDS)}")
        hpa_beside = action_space in ("residual", "capped")
        if residual_hpa_target is not None and not hpa_beside:
            fail("--residual-hpa-target needs --action-space residual or capped")
        from finetune.policy.action_space import ANCHORS

        if residual_anchor not in ANCHORS:
            fail(f"--residual-anchor: got {residual_anchor!r}; allowed: {', '.join(ANCHORS)}")
        if residual_anchor != "replicas" and action_space != "residual":
            fail("--residual-anchor needs --action-space residual")
        extra: dict[str, Any] = {}
        if capped_rules is not None:
            if action_space != "capped":
                fail("--capped-rules needs --action-space capped")
            from finetune.policy.action_space import check_rules

            rules = tuple(r.strip() for r in capped_rules.split(",") if r.strip())
            try:
                check_rules(rules)
            except ValueError as e:
                fail(f"--capped-rules: {e}")
            extra["capped_rules"] = rules
        from finetune.policy.grpo import CONTINUATIONS, REWARDS, GRPOConfig

        if continuation is not None and continuation not in CONTINUATIONS:
            fail(f"--continuation: got {continuation!r}; allowed: {', '.join(CONTINUATIONS)}")
        if reward not in REWARDS:
            fail(f"--reward: got {reward!r}; allowed: {', '.join(REWARDS)}")
        if reward == "counterfactual" and not hpa_beside:
            fail("--reward counterfactual needs --action-space residual or capped (against the HPA alone)")
        grpo_kw: dict[str, Any] = {}
        if continuation is not None or hpa_beside:
            grpo_kw["continuation"] = continuation or "reference"
        if reward == "counterfactual":
            grpo_kw.update(reward=reward, hold=hold, violation_penalty=violation_penalty,
                           violation_credit=violation_credit, cover=cover, futures=futures,
                           future_sigma=future_sigma)
        for key, value in (("horizon", horizon), ("entropy_coef", entropy_coef), ("kl_coef", kl_coef)):
            if value is not None:
                grpo_kw[key] = value
        if grpo_kw:
            try:
                extra["grpo"] = GRPOConfig(**grpo_kw)
            except ValueError as e:
                fail(f"GRPO options: {e}")
        if eval_every is not None:
            extra["eval_every"] = eval_every
        if slo_weight is not None:
            from dataclasses import replace

            from finetune.policy.train import TRAIN_WEIGHTS

            extra["weights"] = replace(TRAIN_WEIGHTS, slo=slo_weight)
        try:
            cfg = TrainConfig.for_algo(algo, seed=seed, iterations=iterations, budget=budget, traces=traces,
                                       floor_tau=floor_tau or None, action_space=action_space,
                                       residual_hpa_target=residual_hpa_target, residual_anchor=residual_anchor,
                                       **extra)
        except ValueError as e:
            fail(str(e))
        wd = work_dir or get_settings().home / "finetune" / "policy"
        _run(cfg, wd, target, resume, progress, rollout_fn, get_settings().home / "cache" / "scaling")
    if card:
        from tools.services import service_names

        bad = [s for s in card_service if s not in service_names()]
        if bad:
            fail(f"--card-service: unknown {', '.join(bad)}; allowed: {', '.join(service_names())}")
        write_card(grpo_out, ARTIFACTS / "scaling_policy_ppo.pt", tuple(card_service) or CARD_SERVICES)


def _run(cfg: object, wd: Path, target: Path, resume: bool, progress: bool, rollout_fn: object,
         hpa_cache: Path | None = None) -> None:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from finetune.policy.train import total_iterations, train

    total = total_iterations(cfg)  # type: ignore[arg-type]
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
                  console=console, disable=not progress) as bar:
        task = bar.add_task(f"{cfg.algo} policy", total=total, info="")  # type: ignore[attr-defined]

        def tick(it: int, n: int, stats: dict[str, float]) -> None:
            bar.update(task, completed=it, info=f"return {stats.get('mean_return', 0):.3f}")

        def log(msg: str) -> None:
            bar.console.print(f"[dim]{msg}[/]")

        meta = train(cfg, wd, target, resume=resume, on_iteration=tick, log=log,  # type: ignore[arg-type]
                     rollout_fn=rollout_fn, hpa_cache_dir=hpa_cache)  # type: ignore[arg-type]
    console.print(json.dumps({k: meta[k] for k in ("algo", "iterations", "sim_steps", "train_wall_s")}))


def write_card(grpo_path: Path, ppo_path: Path, services: tuple[str, ...] = CARD_SERVICES) -> None:
    """Model card + curve plot next to the GRPO policy; evals on the NASA test week, the Azure day and the
    held-out synthetic families."""
    from evals import scaling as ev
    from finetune.policy import card
    from finetune.policy.inference import load_policy

    if not grpo_path.exists():
        fail(f"no GRPO policy at {grpo_path}; train it first")
    _, meta = load_policy(grpo_path)
    ppo_meta = load_policy(ppo_path)[1] if ppo_path.exists() else None
    curve = card.plot_curve(meta, grpo_path.parent / "scaling_policy_curve.png")
    evals: list[tuple[str, dict[str, Any]]] = []
    others: list[tuple[str, dict[str, Any]]] = []
    if ppo_meta and DEFAULT_TRACE.exists():
        cache = get_settings().home / "cache" / "scaling"
        for tr in (DEFAULT_TRACE, AZURE_TOTAL):
            if not tr.exists():
                continue
            for svc in services:
                spec = ev.EvalSpec(trace=tr, split="test", service=svc, cache_dir=cache, policy=grpo_path,
                                   ppo_policy=ppo_path)
                console.print(f"[dim]evaluating {svc} on {tr.name}...[/]")
                cmd = f"keel eval scaling --trace {tr.name} --split test" + (f" --service {svc}" if svc != "frontend"
                                                                              else "")
                (evals if svc == "frontend" else others).append((cmd, ev.evaluate(spec).payload))
        from finetune.policy.families import HELDOUT_FAMILIES

        for fam in HELDOUT_FAMILIES:
            console.print(f"[dim]evaluating frontend on the held-out family {fam}...[/]")
            spec = ev.EvalSpec(family=fam, service="frontend", cache_dir=cache, policy=grpo_path, ppo_policy=ppo_path)
            evals.append((f"keel eval scaling --family {fam}", ev.evaluate(spec).payload))
    text = card.render(meta, ppo_meta, evals, curve.name, others)
    path = grpo_path.parent / "SCALING_MODEL_CARD.md"
    path.write_text(text)
    console.print(f"model card -> {path}")
