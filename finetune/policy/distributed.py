"""Optional Ray fan-out of GRPO rollouts (`keel finetune policy --ray ADDRESS`); in-process is the default.

Ray is imported only when asked for. The rollouts of one collection step are split into one task per
worker chunk; each task receives pickled environment clones and the numpy policy and returns the
returns, so results are identical to the in-process path.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from finetune.policy.env import ScalingEnv
from finetune.policy.grpo import RolloutFn, rollout_returns
from finetune.policy.inference import NumpyPolicy


def ray_rollouts(address: str, chunks: int = 8) -> RolloutFn:
    """A rollout function running on the Ray cluster at `address`; raises RuntimeError if ray is missing."""
    try:
        import ray
    except ImportError:
        raise RuntimeError("--ray needs the `ray` package, which is not installed here "
                           "(pip install ray); omit --ray to run rollouts in-process") from None
    if not ray.is_initialized():
        ray.init(address=address)
    remote: Any = ray.remote(rollout_returns)

    def run(starts: list[ScalingEnv], actions: list[int], policy: NumpyPolicy | None, horizon: int,
            continuation: str = "hold") -> np.ndarray:
        n = max(1, min(chunks, len(starts)))
        bounds = np.linspace(0, len(starts), n + 1).astype(int)
        futures = [remote.remote(starts[a:b], actions[a:b], policy, horizon, continuation)
                   for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
        return np.concatenate(ray.get(futures))

    return run
