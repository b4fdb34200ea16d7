"""The planner's training and dev sets: single-step examples, simulator trajectories, whole investigations and
incident summaries, all split by the same template families. `keel finetune slm --data-only` writes them."""

from __future__ import annotations

import random
from typing import Any

from finetune.slm.data import single_step
from finetune.slm.investigations import investigation_examples
from finetune.slm.summaries import summary_examples
from finetune.slm.trajectories import trajectory_examples
from tools.services import current_topology, use_topology
from tools.topology import Topology


def build_dataset(seed: int = 0, n_single: int = 6000, n_dev: int = 600, n_traj: int = 300,
                  n_summary: int = 300, n_investigations: int = 700, progress: bool = False,
                  topology: Topology | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Train and dev examples. Trajectories, investigations and summaries follow the same family split.

    Services are drawn from `topology` (default: the current one, Online Boutique unless chosen).
    """
    with use_topology(topology or current_topology()):
        return _build_dataset(seed, n_single, n_dev, n_traj, n_summary, n_investigations, progress)


def _build_dataset(seed: int, n_single: int, n_dev: int, n_traj: int, n_summary: int, n_investigations: int,
                   progress: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rng = random.Random(seed)
    train = _dedupe([single_step(rng, "train") for _ in range(n_single)])
    dev = _dedupe([single_step(rng, "dev") for _ in range(n_dev)])
    train_prompts = {e["prompt"] for e in train}
    dev = [e for e in dev if e["prompt"] not in train_prompts]
    train += trajectory_examples(random.Random(seed + 1), n_traj, "train")
    dev += trajectory_examples(random.Random(seed + 2), max(1, n_traj // 10), "dev")
    train += investigation_examples(random.Random(seed + 6), n_investigations, "train", progress)
    dev += investigation_examples(random.Random(seed + 7), max(1, n_investigations // 10), "dev", progress)
    train += summary_examples(random.Random(seed + 3), n_summary)
    dev += summary_examples(random.Random(seed + 4), max(1, n_summary // 10))
    random.Random(seed + 5).shuffle(train)
    return train, dev


def _dedupe(examples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    out = []
    for e in examples:
        if e["prompt"] not in seen:
            seen.add(e["prompt"])
            out.append(e)
    return out


def build_dataset_v2(seed: int = 0, n_shop: int = 2600, n_inventory: int = 3000, n_dialogue: int = 2800,
                     n_traj: int = 200, n_summary: int = 200, n_investigations: int = 400, n_dev: int = 300,
                     progress: bool = False) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """Planner v2 training set and its dev sets (`shop`, `names`, `dialogue`).

    Train: shop single-step requests (canonical names; the "no service called X" families left out), requests on
    generated inventories (the target copies the span), dialogue examples (`finetune.slm.dialogue`), and the
    shop's simulator trajectories, investigations and summaries, a fifth of them behind an unrelated earlier
    exchange. Dev holds out template and dialogue phrase families, name stems and one naming style.
    """
    from finetune.slm.dialogue import dialogue_examples, inventory_single

    rng = random.Random(seed)
    with use_topology(current_topology()):
        train = _dedupe([single_step(rng, "train", unknown_names=False) for _ in range(n_shop)])
        train += _dedupe([inventory_single(rng, "train") for _ in range(n_inventory)])
        train += dialogue_examples(random.Random(seed + 11), n_dialogue, "train", shop_share=0.25)
        multi = trajectory_examples(random.Random(seed + 1), n_traj, "train")
        multi += investigation_examples(random.Random(seed + 6), n_investigations, "train", progress)
        _behind_earlier(random.Random(seed + 12), multi, 0.2)
        train += multi + summary_examples(random.Random(seed + 3), n_summary)
        train_prompts = {e["prompt"] for e in train}
        drng = random.Random(seed + 21)
        dev = {
            "shop": [e for e in _dedupe([single_step(drng, "dev") for _ in range(n_dev)])
                     if e["prompt"] not in train_prompts],
            "names": [e for e in _dedupe([inventory_single(drng, "dev") for _ in range(n_dev)])
                      if e["prompt"] not in train_prompts],
            "dialogue": [e for e in dialogue_examples(random.Random(seed + 22), n_dev + 100, "dev")
                         if e["prompt"] not in train_prompts],
        }
    random.Random(seed + 5).shuffle(train)
    return train, dev


def _behind_earlier(rng: random.Random, rows: list[dict[str, Any]], share: float) -> None:
    """Prefix a share of multi-step examples with one unrelated earlier exchange (history must not leak in)."""
    from finetune.slm.dialogue import dialogue_example

    for r in rows:
        if rng.random() < share:
            ex = dialogue_example(rng, "train", "switch", shop_share=1.0)
            if ex is not None and ex["prompt"].startswith("Earlier:"):
                first = ex["prompt"].splitlines()[0]
                r["prompt"] = first + "\n" + r["prompt"]
