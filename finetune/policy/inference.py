"""Inference-only policy: numpy weights of the MLP, and loading a saved policy file.

Loading needs torch (the file is a torch checkpoint) and imports it only then, so importing this module
(e.g. by the `recommend_scaling` tool) stays cheap. One decision is a few small matrix products in numpy,
which is faster than torch for a single 20-feature input.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from finetune.policy.action_space import ActionSpace
from finetune.policy.features import FEATURES, POLICY_FEATURES


@dataclass
class NumpyPolicy:
    """features -> tanh -> tanh -> logits, with the weights as float64 arrays."""

    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray
    w3: np.ndarray
    b3: np.ndarray

    @classmethod
    def from_state_dict(cls, sd: dict[str, np.ndarray]) -> NumpyPolicy:
        f = {k: np.asarray(v, dtype=np.float64) for k, v in sd.items()}
        return cls(f["body.0.weight"].T, f["body.0.bias"], f["body.2.weight"].T, f["body.2.bias"],
                   f["head.weight"].T, f["head.bias"])

    @property
    def n_inputs(self) -> int:
        return int(self.w1.shape[0])

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Action logits; inputs beyond the ones the policy was trained on (newer features) are ignored."""
        h = np.tanh(x[..., : self.n_inputs] @ self.w1 + self.b1)
        h = np.tanh(h @ self.w2 + self.b2)
        return h @ self.w3 + self.b3

    def probs(self, x: np.ndarray) -> np.ndarray:
        z = self.logits(x)
        z = z - z.max(axis=-1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=-1, keepdims=True)

    def greedy(self, x: np.ndarray, allowed: np.ndarray | None = None) -> np.ndarray | int:
        """The most likely action, among the `allowed` ones (a boolean mask like the logits) when given."""
        z = self.logits(x)
        if allowed is not None:
            z = np.where(allowed, z, -np.inf)
        a = z.argmax(axis=-1)
        return int(a) if np.ndim(a) == 0 else a


def policy_space(meta: dict[str, Any]) -> ActionSpace:
    """The action space a saved policy decides in (see `action_space`)."""
    return ActionSpace.from_meta(meta.get("action_space"))


def load_policy(path: Path) -> tuple[NumpyPolicy, dict[str, Any]]:
    """Load a saved policy; checks that its features, actions and action space match this code."""
    if not path.exists():
        raise FileNotFoundError(f"scaling policy not found: {path} (train it with `keel finetune policy`)")
    import torch

    blob = torch.load(path, map_location="cpu", weights_only=True)
    meta = json.loads(blob["meta"])
    try:
        space = policy_space(meta)
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{path}: unreadable action space in its metadata ({e}); retrain it") from e
    extra = list(space.extra_features)
    known = (list(FEATURES), list(POLICY_FEATURES) + extra)  # without the forecast features: earlier policies
    if meta.get("features") not in known or meta.get("actions") != list(space.names):
        raise ValueError(f"{path}: trained for other features/actions than this code; retrain it")
    sd = {k: v.detach().cpu().numpy() for k, v in blob["state_dict"].items()}
    return NumpyPolicy.from_state_dict(sd), meta
