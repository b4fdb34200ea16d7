"""Planner training data draws its services from the topology it is given; the shop's data is unchanged."""

from __future__ import annotations

import hashlib
import json

from finetune.slm.data import build_dataset
from tools.topology import load_topology

SMALL = {"n_single": 100, "n_dev": 20, "n_traj": 3, "n_summary": 10, "n_investigations": 3}
# sha256 of build_dataset(seed=3, **SMALL) as the fixed-topology generators wrote it (the shipped adapter's data)
SHOP_SHA256 = "12774854bec9679ffc365187cf2b225e4e55239ce9bf35ee1cc54c88e944fbf2"


def _services(rows: list[dict]) -> set[str]:
    return {str(r["args"]["service"]) for r in rows if isinstance(r.get("args"), dict) and "service" in r["args"]}


def test_shop_training_data_is_what_it_was() -> None:
    train, dev = build_dataset(seed=3, **SMALL)
    blob = json.dumps([train, dev], sort_keys=True, default=str).encode()
    assert hashlib.sha256(blob).hexdigest() == SHOP_SHA256


def test_training_data_on_another_topology_names_only_its_services() -> None:
    topo = load_topology("bank-of-anthos")
    train, dev = build_dataset(seed=3, **SMALL, topology=topo)
    named = _services(train + dev)
    assert named and named <= set(topo.names), named - set(topo.names)
    assert len(named) >= 5
    prompts = " ".join(r["prompt"] for r in train)
    assert "ledgerwriter" in prompts or "ledger writer" in prompts
    assert "paymentservice" not in prompts and "checkoutservice" not in prompts
