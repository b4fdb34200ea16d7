"""The shipped configuration of the ranking, the configurations chosen without each development dataset, and
the confidence calibration, read from `shipped.json` next to this file.

`keel eval rca-protocol --write` produces that file (evals/rca_protocol.py): every configuration of a small
grid is scored on each development dataset; the shipped one maximises the mean of AC@1 and Avg@5 over all
of them, and `LEFT_OUT[d]` is the one chosen without dataset `d`, which `keel eval rca` runs beside the
shipped one so that each dataset's left-out figure is measured in the same run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from causal.aggregate import MethodConfig

FILE = Path(__file__).with_name("shipped.json")


def _config(d: dict[str, Any]) -> MethodConfig:
    return MethodConfig(**{**d, "scores": tuple(d["scores"])})


def _load() -> dict[str, Any]:
    return json.loads(FILE.read_text()) if FILE.exists() else {}


_DATA = _load()
SHIPPED: MethodConfig = _config(_DATA["shipped"]) if "shipped" in _DATA else MethodConfig()
LEFT_OUT: dict[str, MethodConfig] = {k: _config(v) for k, v in _DATA.get("left_out", {}).items()}
CALIBRATION: dict[str, float] = dict(_DATA.get("calibration", {}))
