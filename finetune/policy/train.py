"""Training runs for the scaling policy: warm start, GRPO or PPO iterations, checkpoints, resume, validation.

A run is fully determined by its config: episodes are drawn per (seed, iteration), group sampling uses a generator
seeded per (seed, iteration), torch runs on one thread with a fixed seed, and environments restart at checkpoint
boundaries, so a run resumed from its checkpoint produces the same policy as an uninterrupted one. Validation
(greedy policy behind its safety floor, no augmentation) is recorded every `eval_every` iterations for the training
curve. The validation set holds fixed days of the training traces' training splits and one day of each training
family drawn with validation seeds (never the test week of a trace, never the Azure day, never a held-out family);
figures are kept per family. The policy written at the end is chosen on validation only: `select="pareto"` (the
default) takes the checkpoint that is no worse than the tuned HPA on both replica-hours and violation minutes on
the most validation families, then one with no more violation minutes than the tuned HPA over all validation days,
then the fewest replica-hours; `"hpa"` takes, among the checkpoints with no more SLO-violation minutes than the
tuned HPA over all validation days, the one with the fewest replica-hours (the lowest-violation checkpoint when
none qualifies); `"best"` takes the best validation reward, `"last"` the last checkpoint. The tuned HPA of the
validation is the HPA whose CPU target has the best mean evaluation reward (`RewardWeights()`, the eval's reward)
over those days.

`action_space="residual"` trains corrections to a tuned HPA instead of replica changes (`action_space`): the HPA
target is `residual_hpa_target` or, when unset, the target `keel eval scaling` tunes for its `hpa_tuned` baseline
(`hpa_tuning.tune_on_training_split` on the first training trace's training split, for the evals' service, seed and
reward), so the d = 0 policy is the evals' tuned HPA exactly; its provenance is saved in the metadata
(`residual_hpa`). The warm start (and the KL reference) is the constant policy that takes d = 0 with probability
`residual_p0` whatever it observes, so its greedy decisions are the HPA's and iteration 0 -- validated and
selectable like every other -- is that HPA itself. Its groups' rollouts hand back to the HPA after the first minute
(continuation `reference`, the default), hold the correction (`repeat`), or -- with the counterfactual reward
(`grpo.GRPOConfig.reward`) -- hold it `hold` minutes and are scored against the HPA's own continuation. A residual
run's checkpoints are selected against that base HPA on the validation days: the most validation families on which
a checkpoint is no worse than it on both replica-hours and violation minutes, ties to the fewest replica-hours
(iteration 0 ties with itself on every family, so a later one is chosen only if it is no worse on as many families
and cheaper).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from finetune.policy import bc, grpo, ppo
from finetune.policy.action_space import CAPPED, CAPPED_RULES, KINDS, RESIDUAL, RESIDUAL_DELTAS, ActionSpace
from finetune.policy.env import ScalingEnv
from finetune.policy.episodes import EpisodeSource
from finetune.policy.families import TRAIN_FAMILIES, generate
from finetune.policy.hpa import DEFAULT_TARGET, TUNING_GRID
from finetune.policy.hpa_tuning import tune_on_training_split
from finetune.policy.inference import NumpyPolicy
from finetune.policy.model import MLP, numpy_policy, policy_net, save_policy, value_net
from finetune.policy.reward import RewardWeights
from finetune.policy.rollout import HPAController, PolicyController, run
from finetune.policy.safety import SafetyFloor
from finetune.policy.traffic import Trace, entry_scale, load_trace, split_bounds
from runtime.forecast import LOOKBACK

ALGOS = ("grpo", "ppo")
SELECTIONS = ("pareto", "hpa", "best", "last")
DEFAULT_BUDGET = 1_200_000  # simulated minutes (rollouts included) per training run, GRPO and PPO alike
# Training reward: the default weights with a heavier SLO-violation term (chosen on the validation days:
# with slo=2 no checkpoint had as few violation minutes as the tuned HPA there).
TRAIN_WEIGHTS = RewardWeights(slo=4.0)
VALIDATION_SERVICES = ("frontend", "cartservice", "checkoutservice", "recommendationservice")
EVAL_SERVICE = "frontend"  # the service `keel eval scaling` tunes its hpa_tuned for by default (seed 0)


@dataclass(frozen=True)
class TrainConfig:
    algo: str = "grpo"
    seed: int = 0
    iterations: int = 500
    episode_iters: int = 25  # environments restart every this many iterations
    checkpoint_every: int = 25
    eval_every: int = 25
    budget: int | None = DEFAULT_BUDGET  # simulator minutes each algorithm runs to (GRPO: at most `iterations`)
    bc_episodes: int = 48
    bc_minutes: int = 240
    validation_days: int = 4  # days of the training traces (plus one day per training family)
    validation_minutes: int = 1440
    select: str = "pareto"  # see the module docstring
    floor_tau: float | None = 0.5  # the safety floor's forecast quantile (None: no floor)
    family_share: float = 0.6
    warp_share: float = 0.5
    traces: tuple[str, ...] = ()
    grpo: grpo.GRPOConfig = field(default_factory=grpo.GRPOConfig)
    ppo: ppo.PPOConfig = field(default_factory=ppo.PPOConfig)
    weights: RewardWeights = field(default_factory=lambda: TRAIN_WEIGHTS)
    action_space: str = "relative"  # or "residual": corrections to the tuned HPA (see the module docstring)
    residual_hpa_target: float | None = None  # None: the evals' tuned HPA (see the module docstring)
    residual_deltas: tuple[int, ...] = RESIDUAL_DELTAS
    residual_p0: float = 0.6  # the warm start's probability of d = 0
    residual_anchor: str = "replicas"  # what the HPA's utilisation is measured against (`action_space`)
    capped_rules: tuple[str, ...] = CAPPED_RULES  # action_space="capped": the sizing rules (`action_space`)

    @property
    def hpa_based(self) -> bool:
        """A tuned HPA runs beside the policy (the residual and capped spaces)."""
        return self.action_space in (RESIDUAL, CAPPED)

    def floor(self) -> SafetyFloor | None:
        return SafetyFloor(self.floor_tau) if self.floor_tau is not None else None

    def __post_init__(self) -> None:
        if self.algo not in ALGOS:
            raise ValueError(f"algo must be one of {', '.join(ALGOS)}; got {self.algo!r}")
        if self.select not in SELECTIONS:
            raise ValueError(f"select must be one of {', '.join(SELECTIONS)}; got {self.select!r}")
        if self.checkpoint_every % self.episode_iters:
            raise ValueError("checkpoint_every must be a multiple of episode_iters")
        if self.action_space not in KINDS:
            raise ValueError(f"action_space must be one of {', '.join(KINDS)}; got {self.action_space!r}")
        if self.hpa_based:
            if self.algo != "grpo":
                raise ValueError("the residual action space is trained with GRPO only (algo='grpo')")
            if self.grpo.continuation not in ("repeat", "reference", "policy"):
                raise ValueError("a residual policy's rollouts continue with 'repeat', 'reference' (the HPA) or "
                                 "'policy'; "
                                 f"got continuation {self.grpo.continuation!r}")
            if not 0.0 < self.residual_p0 < 1.0:
                raise ValueError(f"residual_p0 must be in (0, 1); got {self.residual_p0}")
            if self.grpo.reward == "counterfactual" and self.grpo.continuation != "reference":
                raise ValueError("the counterfactual reward holds a correction `hold` minutes and hands back to the "
                                 f"HPA: it needs continuation 'reference'; got {self.grpo.continuation!r}")
        elif self.grpo.reward == "counterfactual":
            raise ValueError("the counterfactual reward is measured against the HPA's d = 0 continuation: it needs "
                             "action_space='residual' or 'capped'")

    @classmethod
    def for_algo(cls, algo: str, **kw: Any) -> TrainConfig:
        """Defaults per algorithm: GRPO episodes of 25 iterations (200 decisions), PPO of 4 (256 minutes)."""
        if algo == "ppo":
            kw = {"episode_iters": 4, "checkpoint_every": 100, "eval_every": 100, **kw}
        if kw.get("action_space") in (RESIDUAL, CAPPED) and "grpo" not in kw:
            kw["grpo"] = grpo.GRPOConfig(continuation="reference")
        return cls(algo=algo, **kw)

    def space(self, tuned_target: float) -> ActionSpace:
        """The action space of the run; `tuned_target` is the evals' tuned HPA target (`base_hpa`)."""
        if not self.hpa_based:
            return ActionSpace()
        target = self.residual_hpa_target if self.residual_hpa_target is not None else tuned_target
        if self.action_space == CAPPED:
            return ActionSpace.capped(target, self.capped_rules)
        return ActionSpace.residual(target, self.residual_deltas, self.residual_anchor)

    def base_hpa(self, traces: list[Trace], cache_dir: Path | None = None) -> dict[str, Any] | None:
        """A residual run's base HPA target and where it came from (None for a relative run)."""
        if not self.hpa_based:
            return None
        if self.residual_hpa_target is not None:
            return {"target": self.residual_hpa_target, "source": "--residual-hpa-target"}
        if not traces:
            raise ValueError("the residual space's HPA is tuned on a training trace's training split; give a trace "
                             "or residual_hpa_target")
        target, prov = tune_on_training_split(traces[0], EVAL_SERVICE, 0, RewardWeights(), TUNING_GRID, cache_dir)
        return {"target": target, "procedure": "keel eval scaling's hpa_tuned (hpa_tuning.tune_on_training_split)",
                "service": EVAL_SERVICE, "seed": 0, **{k: v for k, v in prov.items() if k != "cached"}}

    def episode_minutes(self) -> int:
        if self.algo == "grpo":
            return self.episode_iters * self.grpo.decisions_per_env + self.grpo.horizon
        return self.episode_iters * self.ppo.rollout

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["traces"] = [Path(t).name for t in self.traces]
        d["residual_deltas"] = list(self.residual_deltas)
        d["capped_rules"] = list(self.capped_rules)
        return d


@dataclass
class State:
    """Everything a checkpoint holds."""

    net: MLP
    ref: MLP
    vnet: MLP | None
    opt: torch.optim.Optimizer
    iteration: int = 0
    sim_steps: int = 0
    wall_s: float = 0.0
    bc: dict[str, Any] = field(default_factory=dict)
    curve: list[dict[str, float]] = field(default_factory=list)
    validation: list[dict[str, float]] = field(default_factory=list)
    snapshots: dict[int, dict[str, torch.Tensor]] = field(default_factory=dict)  # validated weights by iteration

    def record(self, it: int, figures: dict[str, float]) -> None:
        self.validation.append({"iteration": it, **figures})
        self.snapshots[it] = {k: v.detach().clone() for k, v in self.net.state_dict().items()}


def pareto_wins(v: dict[str, Any], reference: dict[str, Any]) -> int:
    """Validation families on which `v` is no worse than `reference` on replica-hours and violation minutes."""
    ref = reference.get("families", {})
    return sum(1 for fam, f in v.get("families", {}).items() if fam in ref
               and f["replica_hours"] <= ref[fam]["replica_hours"]
               and f["slo_violation_min"] <= ref[fam]["slo_violation_min"])


def select_iteration(validation: list[dict[str, Any]], rule: str, reference: dict[str, Any] | None,
                     residual: bool = False) -> int:
    """The validated iteration to ship under `rule` (see the module docstring; `residual`: against the base HPA,
    ties to the fewest replica-hours)."""
    if rule == "last":
        return int(validation[-1]["iteration"])
    if rule == "pareto" and reference is not None and residual:
        return int(min(validation, key=lambda v: (-pareto_wins(v, reference), v["replica_hours"],
                                                  v["iteration"]))["iteration"])
    if rule == "pareto" and reference is not None:
        budget = reference["slo_violation_min"]
        return int(min(validation, key=lambda v: (-pareto_wins(v, reference), v["slo_violation_min"] > budget,
                                                  v["replica_hours"]))["iteration"])
    if rule == "hpa" and reference is not None:
        ok = [v for v in validation if v["slo_violation_min"] <= reference["slo_violation_min"]]
        if ok:
            return int(min(ok, key=lambda v: (v["replica_hours"], v["slo_violation_min"]))["iteration"])
        return int(min(validation, key=lambda v: (v["slo_violation_min"], v["replica_hours"]))["iteration"])
    return int(max(validation, key=lambda v: v["mean_reward"])["iteration"])


VDay = tuple[np.ndarray, str, int, str]  # entry rps (LOOKBACK warm-up first), service, clock0, family


def tuned_hpa(vset: list[VDay]) -> dict[str, Any]:
    """The HPA whose CPU target has the best mean evaluation reward on the validation days, and its figures."""
    eval_w = RewardWeights()
    scores = {t: validate(None, vset, eval_w, hpa_target=t) for t in TUNING_GRID}
    target = max(TUNING_GRID, key=lambda t: scores[t]["mean_reward"])
    return {"target": target, **scores[target]}


def reference_hpa(vset: list[VDay], space: ActionSpace) -> dict[str, Any]:
    """What a policy is validated against: its base HPA (residual) or the validation days' tuned HPA."""
    if space.hpa_based:
        assert space.hpa_target is not None
        return {"target": space.hpa_target, "base": True,
                **validate(None, vset, RewardWeights(), hpa_target=space.hpa_target)}
    return tuned_hpa(vset)


def validation_set(traces: list[Trace], seed: int, days: int, minutes: int = 1440) -> list[VDay]:
    """Fixed days of the training splits (from midnight, `minutes` long, one service each) and one day of each
    training family drawn with validation seeds; no augmentation."""
    rng = np.random.default_rng([seed, 20_000])
    out: list[VDay] = []
    for k in range(days if traces else 0):
        tr = traces[k % len(traces)]
        lo, hi = split_bounds(len(tr), "train")
        day = int(rng.integers(max(lo // 1440 + 1, 1), hi // 1440))
        start = day * 1440 - LOOKBACK
        svc = VALIDATION_SERVICES[k % len(VALIDATION_SERVICES)]
        load = tr.counts[start : start + minutes + LOOKBACK] * entry_scale(tr.counts[:hi], svc)
        out.append((load, svc, (tr.clock0 + start) % 1440, f"trace:{tr.name}"))
    for k, fam in enumerate(TRAIN_FAMILIES):
        counts = generate(fam, minutes + LOOKBACK, np.random.default_rng([seed, 30_000, k]))
        svc = VALIDATION_SERVICES[k % len(VALIDATION_SERVICES)]
        out.append((counts * entry_scale(counts, svc), svc, 0, fam))
    return out


def validate(policy: NumpyPolicy | None, vset: list[VDay], weights: RewardWeights,
             hpa_target: float | None = None, floor: SafetyFloor | None = None,
             space: ActionSpace | None = None) -> dict[str, Any]:
    """Totals over the validation days (mean reward averaged) and the same figures per family."""
    keys = ("mean_reward", "replica_hours", "slo_violation_min")
    sums = dict.fromkeys(keys, 0.0)
    fams: dict[str, dict[str, float]] = {}
    for k, (load, svc, clock0, fam) in enumerate(vset):
        if hpa_target:
            ctl: HPAController | PolicyController = HPAController("hpa", hpa_target)
        else:
            assert policy is not None, "a policy or an HPA target is needed"
            ctl = PolicyController("policy", policy, floor, space)
        s = run(ctl, load, svc, LOOKBACK, clock0=clock0, seed=1000 + k, weights=weights).summary(weights)
        f = fams.setdefault(fam, dict.fromkeys(keys, 0.0))
        for m in keys:
            sums[m] += s[m] / (len(vset) if m == "mean_reward" else 1)
            f[m] += s[m]
    return {**{m: round(v, 4) for m, v in sums.items()},
            "families": {fam: {m: round(v, 4) for m, v in f.items()} for fam, f in fams.items()}}


def reference_net(space: ActionSpace, p0: float, seed: int) -> MLP:
    """The residual warm start: d = 0 with probability `p0`, the other corrections evenly, whatever the input."""
    torch.manual_seed(seed)
    net = policy_net(space=space)
    with torch.no_grad():
        net.head.weight.zero_()
        net.head.bias.zero_()
        net.head.bias[0] = math.log(p0 * (space.n - 1) / (1.0 - p0))
    return net


def _new_state(cfg: TrainConfig, source: EpisodeSource, space: ActionSpace, log: Callable[[str], None]) -> State:
    torch.manual_seed(cfg.seed)
    t0 = time.perf_counter()
    if space.hpa_based:
        net = reference_net(space, cfg.residual_p0, cfg.seed)
        first = space.names[0]
        steps, bc_info = 0, {"warm_start": f"{first} (the tuned HPA at {space.hpa_target}) with probability "
                                           f"{cfg.residual_p0}", "states": 0, "sim_steps": 0}
        log(f"warm start: the tuned HPA (CPU target {space.hpa_target}), {first} with probability {cfg.residual_p0}")
    else:
        xs, ys, steps = bc.collect(source, cfg.seed, cfg.bc_episodes, cfg.bc_minutes)
        net, acc = bc.fit(xs, ys, cfg.seed)
        bc_info = {"states": len(xs), "accuracy": round(acc, 4), "sim_steps": steps}
        log(f"warm start: behaviour cloning on {len(xs)} states, accuracy {acc:.3f}")
    ref = policy_net(space=space)
    ref.load_state_dict(net.state_dict())
    for p in ref.parameters():
        p.requires_grad_(False)
    vnet = value_net() if cfg.algo == "ppo" else None
    params = list(net.parameters()) + (list(vnet.parameters()) if vnet else [])
    lr = cfg.grpo.lr if cfg.algo == "grpo" else cfg.ppo.lr
    opt = torch.optim.Adam(params, lr=lr)
    return State(net, ref, vnet, opt, sim_steps=steps, wall_s=time.perf_counter() - t0, bc=bc_info)


def save_checkpoint(path: Path, st: State, cfg: TrainConfig) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({
        "config": cfg.to_dict(), "net": st.net.state_dict(), "ref": st.ref.state_dict(),
        "vnet": st.vnet.state_dict() if st.vnet else None, "opt": st.opt.state_dict(),
        "iteration": st.iteration, "sim_steps": st.sim_steps, "wall_s": st.wall_s, "bc": st.bc,
        "curve": st.curve, "validation": st.validation, "snapshots": st.snapshots,
    }, tmp)
    tmp.replace(path)


def _resumable(config: dict[str, Any]) -> dict[str, Any]:
    """The parts of a config a checkpoint must share with the run resuming it (the length may grow)."""
    return {k: v for k, v in config.items() if k not in ("iterations", "budget")}


def load_checkpoint(path: Path, cfg: TrainConfig, space: ActionSpace | None = None) -> State:
    blob = torch.load(path, map_location="cpu", weights_only=False)
    if _resumable(blob["config"]) != _resumable(cfg.to_dict()):
        raise ValueError(f"{path} was written by a run with another config; use --no-resume or another work dir")
    net, ref = policy_net(space=space), policy_net(space=space)
    net.load_state_dict(blob["net"])
    ref.load_state_dict(blob["ref"])
    for p in ref.parameters():
        p.requires_grad_(False)
    vnet = None
    if blob["vnet"] is not None:
        vnet = value_net()
        vnet.load_state_dict(blob["vnet"])
    params = list(net.parameters()) + (list(vnet.parameters()) if vnet else [])
    opt = torch.optim.Adam(params)
    opt.load_state_dict(blob["opt"])
    return State(net, ref, vnet, opt, blob["iteration"], blob["sim_steps"], blob["wall_s"], blob["bc"],
                 blob["curve"], blob["validation"], blob["snapshots"])


def total_iterations(cfg: TrainConfig) -> int:
    if cfg.algo == "ppo" and cfg.budget:
        per = cfg.ppo.envs * cfg.ppo.rollout
        return math.ceil(cfg.budget / per / cfg.episode_iters) * cfg.episode_iters
    return cfg.iterations


def train(
    cfg: TrainConfig,
    work_dir: Path,
    out: Path,
    resume: bool = True,
    on_iteration: Callable[[int, int, dict[str, float]], None] | None = None,
    log: Callable[[str], None] = print,
    rollout_fn: grpo.RolloutFn | None = None,
    hpa_cache_dir: Path | None = None,
) -> dict[str, Any]:
    """Train (or resume) and write the policy to `out`; returns the metadata saved with it.

    `hpa_cache_dir` caches the residual base HPA's tuning (the evals' cache)."""
    torch.set_num_threads(1)
    started = time.perf_counter()
    traces = [load_trace(Path(p)) for p in cfg.traces]
    source = EpisodeSource(tuple(traces), weights=cfg.weights, family_share=cfg.family_share,
                           warp_share=cfg.warp_share)
    vset = validation_set(traces, cfg.seed, cfg.validation_days, cfg.validation_minutes)
    base = cfg.base_hpa(traces, hpa_cache_dir)
    space = cfg.space(base["target"] if base else DEFAULT_TARGET)
    hpa_tuned_val = (reference_hpa(vset, space) if cfg.select in ("hpa", "pareto") or cfg.hpa_based else None)
    if space.hpa_based:
        assert base is not None
        log(f"{space.kind} action space: {space.describe()} "
            f"({base.get('procedure', base.get('source'))}; {base.get('source', '')})")
        log(f"base HPA on validation: {hpa_tuned_val}")
    ckpt = work_dir / f"{cfg.algo}-{'residual-' if space.hpa_based else ''}checkpoint.pt"
    resumed_at: int | None = None
    if resume and ckpt.exists():
        st = load_checkpoint(ckpt, cfg, space)
        resumed_at = st.iteration
        log(f"resumed from {ckpt} at iteration {st.iteration}")
    else:
        st = _new_state(cfg, source, space, log)
        st.record(0, validate(numpy_policy(st.net), vset, cfg.weights, floor=cfg.floor(), space=space))
    total = total_iterations(cfg)
    envs: list[ScalingEnv] = []
    gen = torch.Generator()

    def finished() -> bool:
        spent = cfg.algo == "grpo" and cfg.budget is not None and st.sim_steps >= cfg.budget
        return st.iteration >= total or spent

    while not finished():
        it = st.iteration
        t0 = time.perf_counter()
        if it % cfg.episode_iters == 0 or not envs:
            n_envs = cfg.grpo.envs if cfg.algo == "grpo" else cfg.ppo.envs
            envs = source.batch(cfg.seed, it, n_envs, cfg.episode_minutes())
            if cfg.algo == "grpo":
                for env in envs:
                    env.floor = cfg.floor()
                    env.set_space(space)
        rng = np.random.default_rng([cfg.seed, it, 1])
        if cfg.algo == "grpo":
            policy = numpy_policy(st.net)
            batch = grpo.collect(envs, policy, rng, cfg.grpo, rollout_fn)
            stats = grpo.update(st.net, st.ref, st.opt, batch, cfg.grpo)
            stats.update(mean_return=batch.mean_return, uniform_groups=batch.uniform_groups)
            st.sim_steps += batch.sim_steps
        else:
            assert st.vnet is not None
            pb = ppo.collect(envs, st.net, st.vnet, rng, cfg.ppo)
            gen.manual_seed(cfg.seed * 100_003 + it)
            stats = ppo.update(st.net, st.vnet, st.opt, pb, cfg.ppo, gen)
            stats.update(mean_return=pb.mean_reward)
            st.sim_steps += pb.sim_steps
        st.iteration = it + 1
        every = cfg.grpo.ref_update_every if cfg.algo == "grpo" else 0
        if every and st.iteration % every == 0:
            st.ref.load_state_dict(st.net.state_dict())
        st.wall_s += time.perf_counter() - t0
        stats = {"iteration": st.iteration, "sim_steps": st.sim_steps, **{k: round(v, 5) for k, v in stats.items()}}
        st.curve.append(stats)
        scheduled = st.iteration % cfg.eval_every == 0
        if scheduled or finished():
            v = validate(numpy_policy(st.net), vset, cfg.weights, floor=cfg.floor() if cfg.algo == "grpo" else None,
                         space=space)
            log(f"iteration {st.iteration}: validation {v}")
        if scheduled:
            st.record(st.iteration, v)
        if st.iteration % cfg.checkpoint_every == 0 or finished():
            save_checkpoint(ckpt, st, cfg)
        if finished() and not scheduled:
            # off-schedule final validation: selectable in this run, but kept out of the checkpoint so that a
            # run resumed from it validates exactly the iterations an uninterrupted run does
            st.record(st.iteration, v)
        if on_iteration:
            on_iteration(st.iteration, total, stats)
    hpa_val = validate(None, vset, cfg.weights, hpa_target=DEFAULT_TARGET)
    selected = select_iteration(st.validation, cfg.select, hpa_tuned_val, residual=space.hpa_based)
    st.net.load_state_dict(st.snapshots[selected])
    meta = {
        "algo": cfg.algo, "seed": cfg.seed, "config": cfg.to_dict(), "iterations": st.iteration,
        "selected_iteration": selected, "select": cfg.select, "validation_tuned_hpa": hpa_tuned_val,
        "residual_hpa": base,
        "floor": ({"tau": cfg.floor_tau, "utilisation": cfg.floor().utilisation}  # type: ignore[union-attr]
                  if cfg.algo == "grpo" and cfg.floor_tau is not None else None),
        "sim_steps": st.sim_steps, "train_wall_s": round(st.wall_s, 1), "bc": st.bc,
        "run_wall_s": round(time.perf_counter() - started, 1), "resumed_at": resumed_at,
        "curve": st.curve, "validation": st.validation, "validation_default_hpa": hpa_val,
        "torch": torch.__version__,
    }
    save_policy(out, st.net, meta, space)
    log(f"wrote {out} ({st.iteration} iterations, {st.sim_steps} simulated minutes, {st.wall_s / 60:.1f} min)")
    return meta
