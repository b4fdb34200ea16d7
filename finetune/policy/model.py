"""The policy network (a small MLP over the features), its value-network twin for PPO, and saving.

Training uses torch; decisions use the numpy copy from `numpy_policy` (see `inference`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from finetune.policy.action_space import ActionSpace
from finetune.policy.env import N_ACTIONS
from finetune.policy.features import N_FEATURES, POLICY_FEATURES
from finetune.policy.inference import NumpyPolicy

HIDDEN = 64


class MLP(nn.Module):
    """features -> tanh(64) -> tanh(64) -> outputs."""

    def __init__(self, n_out: int, hidden: int = HIDDEN, n_in: int = N_FEATURES) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_in, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh())
        self.head = nn.Linear(hidden, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def policy_net(hidden: int = HIDDEN, space: ActionSpace | None = None) -> MLP:
    """The policy network for `space` (default: the relative space): one logit per action, its inputs."""
    if space is None:
        return MLP(N_ACTIONS, hidden)
    return MLP(space.n, hidden, N_FEATURES + len(space.extra_features))


def value_net(hidden: int = HIDDEN) -> MLP:
    return MLP(1, hidden)


def numpy_policy(net: MLP) -> NumpyPolicy:
    return NumpyPolicy.from_state_dict({k: v.detach().cpu().numpy() for k, v in net.state_dict().items()})


def save_policy(path: Path, net: MLP, meta: dict[str, Any], space: ActionSpace | None = None) -> None:
    """Weights plus a JSON metadata string (features, actions, action space, config, training figures)."""
    space = space or ActionSpace()
    if net.head.out_features != space.n:
        raise ValueError(f"the network has {net.head.out_features} outputs; the {space.kind} space has {space.n}")
    meta = {**meta, "features": list(POLICY_FEATURES + space.extra_features), "actions": list(space.names),
            "action_space": space.to_meta(), "hidden": net.head.in_features}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": net.state_dict(), "meta": json.dumps(meta)}, path)
