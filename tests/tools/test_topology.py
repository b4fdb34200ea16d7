"""Topologies as data: loading and validating topology files, the built-ins, and the simulator on any DAG."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from finetune.policy.features import HISTORY, ServiceInfo, features
from finetune.policy.reward import slo_ms
from tools.backends.sim import Fault, LoadCurve, Simulator
from tools.backends.sim import model as sim_model
from tools.backends.sim.model import M
from tools.backends.sim.scenario import load_scenario
from tools.services import current_topology, resolve_service, use_topology
from tools.topology import (
    TopologyError,
    builtin_names,
    default_topology,
    load_topology,
    topology_from_dict,
)

ROOT = Path(__file__).resolve().parents[2]
PINNED = Path(__file__).parent / "data" / "shop_policy_features.json"


def generated(n: int, seed: int = 0, entry_rps: float = 100.0) -> dict:
    """A random layered DAG of `n` services in the topology file format: each service called by one or two
    services of the layer above, capacities sized to 50 % utilisation at `entry_rps`."""
    rng = np.random.default_rng(seed)
    names = [f"svc-{i:04d}" for i in range(n)]
    layers, k = [[0]], 1
    while k < n:
        size = min(n - k, max(2, int(len(layers[-1]) * rng.uniform(2, 4))))
        layers.append(list(range(k, k + size)))
        k += size
    edges = []
    for above, layer in zip(layers[:-1], layers[1:], strict=True):
        for i in layer:
            for p in sorted(set(rng.choice(above, size=int(rng.integers(1, 3))).tolist())):
                edges.append({"caller": names[p], "callee": names[i], "calls": round(float(rng.uniform(0.2, 1.0)), 2)})
    raw = {"name": f"generated-{n}", "entry": names[0], "edges": edges,
           "services": [{"name": s, "capacity_rps": 1.0, "service_ms": round(float(rng.uniform(1, 5)), 2),
                         "replicas": 2, "max_replicas": 10} for s in names]}
    visits = topology_from_dict(raw, "sizing").arrays.visits
    for svc, v in zip(raw["services"], visits, strict=True):
        svc["capacity_rps"] = round(max(5.0, float(v) * entry_rps / (2 * 0.5)), 2)
    return raw


def _write(tmp_path: Path, raw: dict, name: str = "topo.yaml") -> Path:
    p = tmp_path / name
    p.write_text(json.dumps(raw) if name.endswith(".json") else __import__("yaml").safe_dump(raw))
    return p


def _small() -> dict:
    return {"name": "tiny", "entry": "web", "services": [
        {"name": "web", "capacity_rps": 100, "service_ms": 5},
        {"name": "api", "capacity_rps": 100, "service_ms": 5, "aliases": ["backend"]},
        {"name": "db", "capacity_rps": 300, "service_ms": 1, "protected": True},
    ], "edges": [{"caller": "web", "callee": "api", "calls": 1.0}, {"caller": "api", "callee": "db", "calls": 2.0}]}


def test_builtins_load_and_shop_is_the_default() -> None:
    assert builtin_names() == ["bank-of-anthos", "online-boutique", "sock-shop"]
    shop = default_topology()
    assert shop.name == "online-boutique" and shop.entry == "frontend" and len(shop) == 11
    assert shop.protected == frozenset({"redis-cart"})
    assert shop.aliases["checkout"] == "checkoutservice"
    assert current_topology() is shop
    sock = load_topology("sock-shop")
    assert {"front-end", "orders", "carts-db", "queue-master"} <= set(sock.names)
    assert load_topology(ROOT / "tools" / "topologies" / "sock-shop.yaml") == sock  # a path works as well


@pytest.mark.parametrize("name", ["sock-shop", "bank-of-anthos"])
def test_new_topologies_run_at_30_to_60_percent_under_the_default_load(name: str) -> None:
    topo = load_topology(name)
    util = topo.utilisation(400.0)  # the default scenario load: diurnal, 400 rps peak at the entry
    assert all(0.3 <= u <= 0.6 for u in util.values()), {s: round(u, 2) for s, u in util.items()}
    sim = Simulator(LoadCurve.diurnal(400.0, seed=1), topology=topo, seed=1)
    sim.step(24 * 60)
    cpu = sim.history[:, :, M["cpu"]]
    assert cpu.max() < 75 and sim.history[:, :, M["error_rate"]].max() < 0.01


@pytest.mark.parametrize("mutate, field", [
    (lambda r: r["edges"].append({"caller": "api", "callee": "cache", "calls": 1}), "edges[2].callee"),
    (lambda r: r["edges"].append({"caller": "db", "callee": "web", "calls": 1}), "cycle"),
    (lambda r: r.update(entry="gateway"), "entry"),
    (lambda r: r["services"][1].update(capacity_rps=0), "services[1].capacity_rps (api)"),
    (lambda r: r["services"][2].update(capacity_rps=-5), "services[2].capacity_rps (db)"),
    (lambda r: r["services"][1].update(replicas=20, max_replicas=5), "services[1] (api)"),
    (lambda r: r["services"].append({"name": "web", "capacity_rps": 1, "service_ms": 1}), "services[3].name"),
    (lambda r: r["services"][0].update(aliases=["backend"]), "services[1].aliases (api)"),
    (lambda r: r["services"][0].update(colour="red"), "services[0].colour (web)"),
])
def test_invalid_topology_files_name_the_file_and_the_field(tmp_path: Path, mutate, field: str) -> None:
    raw = _small()
    mutate(raw)
    for suffix in ("yaml", "json"):
        path = _write(tmp_path, raw, f"bad.{suffix}")
        with pytest.raises(TopologyError) as err:
            load_topology(path)
        assert str(path) in str(err.value) and field in str(err.value), str(err.value)


def test_cycle_error_shows_the_loop_and_unknown_names_list_the_services(tmp_path: Path) -> None:
    raw = _small()
    raw["edges"].append({"caller": "db", "callee": "web", "calls": 1})
    loops = "web -> api -> db -> web|api -> db -> web -> api|db -> web -> api -> db"
    with pytest.raises(TopologyError, match=rf"cycle: ({loops})"):
        topology_from_dict(raw, "x.yaml")
    with pytest.raises(TopologyError, match="unknown topology 'nope'; built-in: bank-of-anthos, online-boutique"):
        load_topology("nope")
    with pytest.raises(TopologyError, match="topology file not found"):
        load_topology(tmp_path / "missing.yaml")


def test_round_trip_and_names_resolve_against_the_topology() -> None:
    topo = topology_from_dict(_small(), "tiny")
    assert topology_from_dict(topo.to_dict(), "again") .edges == topo.edges
    assert resolve_service("Backend", topo) == "api"
    assert resolve_service("api service", topo) == "api"
    with pytest.raises(ValueError, match=r"unknown service 'checkout'; allowed: web, api, db; did you mean "):
        resolve_service("checkout", topo)
    with use_topology(topo):
        assert current_topology() is topo and resolve_service("db") == "db"
    assert current_topology() is default_topology()


def test_scenario_names_its_topology_relative_to_the_file(tmp_path: Path) -> None:
    _write(tmp_path, _small(), "tiny.yaml")
    (tmp_path / "incident.yaml").write_text(
        "topology: tiny.yaml\nseed: 3\nfaults:\n- {type: crash, service: backend, start: 5m, duration: 30m}\n")
    sc = load_scenario(tmp_path / "incident.yaml")
    assert sc.topo.name == "tiny" and sc.faults[0].service == "api"
    sim = sc.build(tmp_path)
    sim.run_until(20)
    web = sim.history[10:20, sim.idx["web"], M["error_rate"]]
    assert web.min() > 0.9  # the crash below shows at the entry
    (tmp_path / "wrong.yaml").write_text(
        "topology: sock-shop\nfaults:\n- {type: crash, service: redis-cart, start: 5m}\n")
    unknown = r"unknown service 'redis-cart'; allowed: front-end, .*; did you mean carts"
    with pytest.raises(ValueError, match=rf"wrong.yaml: .*{unknown}"):
        load_scenario(tmp_path / "wrong.yaml")


def test_propagation_paths_agree_bit_for_bit() -> None:
    """The scalar loop (small graphs) and the level-vectorised propagation (large graphs) give the same bits."""
    rng = np.random.default_rng(0)
    for topo in (default_topology(), load_topology("sock-shop"), topology_from_dict(generated(120, 3), "gen")):
        n = len(topo)
        for _ in range(20):
            p50 = rng.uniform(1, 500, n)
            p99 = p50 * rng.uniform(1, 5, n)
            err = rng.uniform(0, 0.5, n) * (rng.random(n) < 0.5)
            a = sim_model._propagate_scalar(topo, p50.copy(), p99.copy(), err.copy())
            b = sim_model._propagate_levels(topo, p50.copy(), p99.copy(), err.copy())
            assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_a_thousand_service_dag_simulates_and_a_fault_reaches_the_entry() -> None:
    topo = topology_from_dict(generated(1000, 7), "generated")
    assert len(topo) == 1000 and len(topo.edges) > 1000
    assert max(topo.utilisation(100.0).values()) <= 0.51
    first = max(topo.callees(topo.entry), key=lambda s: topo.arrays.visits[topo.idx[s]])
    quiet = Simulator(LoadCurve.constant(100.0), seed=1, topology=topo)
    sim = Simulator(LoadCurve.constant(100.0), [Fault("latency_injection", first, 10, 60, 1.0)], seed=1,
                    topology=topo)
    quiet.step(40)
    sim.step(40)
    assert np.isfinite(sim.history).all() and sim.history[:, :, M["error_rate"]].max() < 0.5
    e = topo.idx[topo.entry]
    slow, base = sim.history[30:40, e, M["latency_p99"]].mean(), quiet.history[30:40, e, M["latency_p99"]].mean()
    assert base < 5000 and slow > base + 200
    assert np.array_equal(quiet.history[:10], sim.history[:10])  # nothing differs before the fault


def test_shop_policy_features_are_pinned() -> None:
    """recommend_scaling's features for Online Boutique equal those of the fixed-topology code (the shipped
    policy was trained on them): SLOs and feature vectors of every service in three scenarios, bit for bit."""
    pinned = json.loads(PINNED.read_text())
    for s, v in pinned["slo_ms"].items():
        assert slo_ms(s) == v, s
    for case in pinned["cases"]:
        sim = load_scenario(ROOT / case["scenario"]).build()
        sim.run_until(case["minute"])
        i = sim.idx[case["service"]]
        x = features(sim.history[-HISTORY:, i], float(sim.replicas[i]), ServiceInfo.of(case["service"]),
                     float(sim.minute % 1440))
        assert x.tolist() == case["features"], (case["scenario"], case["service"])


def test_contract_schema_and_fallback_grammar_use_the_current_topologys_names() -> None:
    from agent.planner.grammar import call_grammar
    from tools.contract import TOOLS, ContractError, validate_call

    shop = call_grammar()
    with use_topology(load_topology("sock-shop")):
        sock = call_grammar()
        enum = TOOLS["restart_service"].json_schema()["properties"]["service"]["enum"]
        assert validate_call("restart_service", {"service": "basket"}).service == "carts"  # type: ignore[attr-defined]
        with pytest.raises(ContractError, match=r"service: unknown service 'adservice'; allowed: front-end"):
            validate_call("restart_service", {"service": "adservice"})
    assert enum == list(load_topology("sock-shop").names)
    assert '"queue-master"' in sock and '"cartservice"' not in sock
    assert '"cartservice"' in shop and '"queue-master"' not in shop
