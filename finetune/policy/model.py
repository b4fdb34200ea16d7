"""The policy network (a small MLP over the features), its value-network twin for PPO, saving and loading.

Training uses torch; decisions use a numpy copy of the weights (`NumpyPolicy`), which is several times
faster than torch for one 18-feature input and keeps a decision well under a millisecond.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from finetune.policy.env import ACTION_NAMES, N_ACTIONS
from finetune.policy.features import FEATURES, N_FEATURES

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


@dataclass
class NumpyPolicy:
    """Inference-only copy of a policy network."""

    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray
    w3: np.ndarray
    b3: np.ndarray

    @classmethod
    def from_net(cls, net: MLP) -> NumpyPolicy:
        sd = {k: v.detach().cpu().numpy().astype(np.float64) for k, v in net.state_dict().items()}
        return cls(sd["body.0.weight"].T, sd["body.0.bias"], sd["body.2.weight"].T, sd["body.2.bias"],
                   sd["head.weight"].T, sd["head.bias"])

    def logits(self, x: np.ndarray) -> np.ndarray:
        h = np.tanh(x @ self.w1 + self.b1)
        h = np.tanh(h @ self.w2 + self.b2)
        return h @ self.w3 + self.b3

    def probs(self, x: np.ndarray) -> np.ndarray:
        z = self.logits(x)
        z = z - z.max(axis=-1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=-1, keepdims=True)

    def greedy(self, x: np.ndarray) -> np.ndarray | int:
        a = self.logits(x).argmax(axis=-1)
        return int(a) if np.ndim(a) == 0 else a


def save_policy(path: Path, net: MLP, meta: dict[str, Any]) -> None:
    """Weights plus a JSON metadata string (features, actions, config, training figures)."""
    meta = {**meta, "features": list(FEATURES), "actions": list(ACTION_NAMES), "hidden": net.head.in_features}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": net.state_dict(), "meta": json.dumps(meta)}, path)


def load_policy(path: Path) -> tuple[NumpyPolicy, dict[str, Any]]:
    """Load a saved policy; checks that its features and actions match this code."""
    if not path.exists():
        raise FileNotFoundError(f"scaling policy not found: {path} (train it with `keel finetune policy`)")
    blob = torch.load(path, map_location="cpu", weights_only=True)
    meta = json.loads(blob["meta"])
    if meta.get("features") != list(FEATURES) or meta.get("actions") != list(ACTION_NAMES):
        raise ValueError(f"{path}: trained for other features/actions than this code; retrain it")
    net = policy_net(int(meta.get("hidden", HIDDEN)))
    net.load_state_dict(blob["state_dict"])
    return NumpyPolicy.from_net(net), meta
