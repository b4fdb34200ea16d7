"""Inventory discovery from Kubernetes (against the fake API server), topology files, keel.toml tables, the
TTL refresh, and a failing source keeping its last answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import get_settings
from tests.backends.fake_kube import FakeKube
from tests.backends.fake_loki import serve_fake
from tools.backends.discovery import (
    EMPTY_RETRY_S,
    InventoryRefresher,
    Source,
    kubernetes_source,
    services_table_source,
    topology_file_source,
)
from tools.backends.factory import install_inventory
from tools.backends.kubernetes import load_api_client
from tools.inventory import from_names, merge
from tools.registry import call_tool
from tools.services import current_inventory, service_names


def test_kubernetes_deployments_statefulsets_protected_and_hpa_bounds() -> None:
    fake = FakeKube("ledger")
    fake.add_deployment("journalWriter".lower(), ["jw:v1"], replicas=2)
    fake.add_deployment("fx-quotes", ["fx:v1"], replicas=3)
    fake.add_statefulset("ledger-pg", "postgres:16")
    fake.add_hpa("fx-quotes", 2, 12)
    with serve_fake(fake) as url:
        inv = kubernetes_source(load_api_client(host=url), ("ledger",), {"journal-writer": "journalwriter"}).discover()
    assert fake.violations == []
    assert inv.names == ("journal-writer", "fx-quotes", "ledger-pg")  # Deployments first, the map applied
    pg = inv.by_name["ledger-pg"]
    assert pg.protected and "StatefulSet ledger/ledger-pg" in pg.sources["protected"]
    assert not inv.by_name["fx-quotes"].protected and inv.bounds("fx-quotes") == (2, 12)
    assert "HorizontalPodAutoscaler ledger/fx-quotes-hpa" in inv.by_name["fx-quotes"].sources["max_replicas"]
    assert inv.bounds("journal-writer") is None
    paths = [r["path"] for r in fake.requests]
    assert "/apis/apps/v1/namespaces/ledger/statefulsets" in paths
    assert "/apis/autoscaling/v1/namespaces/ledger/horizontalpodautoscalers" in paths


def test_keel_toml_tables_override_and_unprotect(tmp_path: Path) -> None:
    fake = FakeKube("ledger")
    fake.add_statefulset("ledger-pg", "postgres:16")
    fake.add_deployment("fx-quotes", ["fx:v1"])
    with serve_fake(fake) as url:
        kube = kubernetes_source(load_api_client(host=url), ("ledger",)).discover()
    tables = services_table_source({"ledger-pg": {"protected": False}, "fx-quotes": {"aliases": ["FX", "quotes"],
                                                                                      "min_replicas": 1,
                                                                                      "max_replicas": 4}}).discover()
    inv = merge([kube, tables])
    assert kube.by_name["ledger-pg"].protected and not inv.by_name["ledger-pg"].protected  # keel.toml says so
    assert inv.by_name["ledger-pg"].sources["protected"] == "keel.toml [services.ledger-pg]"
    assert inv.aliases == {"fx": "fx-quotes", "quotes": "fx-quotes"}
    assert inv.bounds("fx-quotes") == (1, 4)
    assert inv.by_name["fx-quotes"].sources["aliases"] == "keel.toml [services.fx-quotes]"


def test_topology_file_csv_and_yaml(tmp_path: Path) -> None:
    csv = tmp_path / "graph.csv"
    csv.write_text("Source,Target\nweb-gateway,orderEngine\norderEngine,stock_db\n")
    inv = topology_file_source(csv).discover()
    assert inv.names == ("web-gateway", "orderEngine", "stock_db") and ("orderEngine", "stock_db") in inv.edges
    yml = tmp_path / "t.yaml"
    yml.write_text("name: tiny\nentry: web\nservices:\n"
                   "- {name: web, capacity_rps: 10, service_ms: 5, aliases: [frontdoor]}\n"
                   "- {name: db, capacity_rps: 10, service_ms: 5, protected: true, max_replicas: 1}\n"
                   "edges:\n- {caller: web, callee: db}\n")
    inv = topology_file_source(yml).discover()
    assert inv.protected == {"db"} and inv.aliases == {"frontdoor": "web"} and inv.bounds("db") == (1, 1)


def test_refresher_ttl_and_a_failing_source_keeps_its_last_answer() -> None:
    now = [0.0]
    answers = [["a", "b"], RuntimeError("connection refused"), ["a", "c"]]
    calls = []

    def discover():  # type: ignore[no-untyped-def]
        calls.append(1)
        got = answers[len(calls) - 1]
        if isinstance(got, Exception):
            raise got
        return from_names(got, "test")

    r = InventoryRefresher([Source("prom", discover)], ttl_s=30, clock=lambda: now[0])
    assert r.get().names == ("a", "b") and r.get().names == ("a", "b") and len(calls) == 1  # cached
    now[0] = 31
    inv = r.get()
    assert inv.names == ("a", "b") and "connection refused" in inv.problems[0] and "last answer" in inv.problems[0]
    now[0] = 62
    assert r.get().names == ("a", "c") and r.get().problems == ()


def test_settings_install_the_discovered_inventory(tmp_path: Path) -> None:
    csv = tmp_path / "graph.csv"
    csv.write_text("caller,callee\nstorefront,billing-worker\nstorefront,billing-api\n")
    settings = get_settings(topology_file=str(csv), metrics_backend="sim",
                            services={"billing-api": {"protected": True}})
    assert install_inventory(settings) is not None
    assert service_names() == ("storefront", "billing-worker", "billing-api")
    assert current_inventory().protected == {"billing-api"}
    with pytest.raises(ValueError, match="min_replicas 5 > max_replicas 2"):
        get_settings(services={"x": {"min_replicas": 5, "max_replicas": 2}})
    with pytest.raises(ValueError, match="services.x.colour"):
        get_settings(services={"x": {"colour": "red"}})
    # the tools take these names now; a write on a near miss is refused with the closest names
    from tools.backends.factory import build_backends

    ctx = build_backends(settings)
    bad = call_tool("restart_service", {"service": "billing"}, ctx)
    assert bad.status == "error" and bad.code == "ambiguous_service"
    assert bad.data["service"] == "billing" and bad.data["candidates"][:2] == ["billing-worker", "billing-api"]
    bad = call_tool("rollback_deployment", {"service": "invoicer"}, ctx)
    assert bad.code == "unknown_service" and len(bad.data["candidates"]) == 3


def test_an_empty_inventory_is_discovered_again_soon() -> None:
    """A Prometheus with no series yet: the services show up within EMPTY_RETRY_S, not after the whole TTL."""
    now = [0.0]
    answers = [[], ["checkout", "payments"]]
    calls: list[int] = []

    def discover():  # type: ignore[no-untyped-def]
        calls.append(1)
        return from_names(answers[min(len(calls), len(answers)) - 1], "test")

    r = InventoryRefresher([Source("prom", discover)], ttl_s=60, clock=lambda: now[0])
    assert r.get().names == ()
    now[0] = EMPTY_RETRY_S - 0.1
    assert r.get().names == () and len(calls) == 1  # still cached
    now[0] = EMPTY_RETRY_S
    assert r.get().names == ("checkout", "payments") and len(calls) == 2
    now[0] = EMPTY_RETRY_S + 30  # a non-empty inventory keeps the whole TTL
    assert r.get().names == ("checkout", "payments") and len(calls) == 2
