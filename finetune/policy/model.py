"""The policy network (a small MLP over the features), its value-network twin for PPO, and saving.

Training uses torch; decisions use the numpy copy from `numpy_policy` (see `inference`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from finetune.policy.env import ACTION_NAMES, N_ACTIONS
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


def policy_net(hidden: int = HIDDEN) -> MLP:
    return MLP(N_ACTIONS, hidden)


def value_net(hidden: int = HIDDEN) -> MLP:
    return MLP(1, hidden)


def numpy_policy(net: MLP) -> NumpyPolicy:
    return NumpyPolicy.from_state_dict({k: v.detach().cpu().numpy() for k, v in net.state_dict().items()})


def save_policy(path: Path, net: MLP, meta: dict[str, Any]) -> None:
    """Weights plus a JSON metadata string (features, actions, config, training figures)."""
    meta = {**meta, "features": list(POLICY_FEATURES), "actions": list(ACTION_NAMES), "hidden": net.head.in_features}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": net.state_dict(), "meta": json.dumps(meta)}, path)
