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
