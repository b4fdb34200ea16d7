"""Name resolution: exact -> alias -> normalised -> fuzzy, reads vs writes, errors with the closest names, and
finding the services a sentence names."""

from __future__ import annotations

from tools.inventory import ServiceFacts, from_names, merge
from tools.resolution import closest, closest_span, mentioned, resolve

LEDGER = from_names(["journalWriter", "ledger-api", "billing-api", "billing-worker", "orders-db", "orders"], "t")
TRAIN = from_names(["ts-travel-service", "ts-order-service", "ts-user-service", "ts-ui-dashboard",
                    "ts-route-plan-service"], "t")


def test_exact_alias_and_normalised_before_fuzzy() -> None:
    inv = merge([LEDGER, from_names([], "x"), _with_alias("ledger-api", "books")])
    assert resolve("ledger-api", inv, for_write=True).how == "exact"
    assert resolve("LEDGER-API", inv, for_write=True).how == "exact"
    r = resolve("Books", inv, for_write=True)
    assert (r.name, r.how) == ("ledger-api", "alias")
    assert resolve("journalwriter", inv, for_write=True).how == "exact"  # case aside
    for variant in ("journal writer", "journal_writer", "Journal-Writer", "shop/journalWriter",
                    "journalWriter.shop.svc.cluster.local", "journal writer service", "journal-writer-svc"):
        r = resolve(variant, inv, for_write=True)
        assert (r.name, r.how) == ("journalWriter", "normalised"), (variant, r)


def test_shared_prefix_and_suffix_are_normalised() -> None:
    for variant, want in (("travel", "ts-travel-service"), ("travel service", "ts-travel-service"),
                          ("order svc", "ts-order-service"), ("ts-route-plan", "ts-route-plan-service")):
        r = resolve(variant, TRAIN, for_write=True)
        assert (r.name, r.how) == (want, "normalised"), (variant, r)


def test_a_read_may_use_a_confident_fuzzy_match_a_write_may_not() -> None:
    read = resolve("jornal writer", LEDGER, for_write=False)
    assert (read.name, read.how) == ("journalWriter", "fuzzy") and read.score >= 88
    assert "resolved to journalWriter (fuzzy" in read.message()
    write = resolve("jornal writer", LEDGER, for_write=True)
    assert write.name is None and write.code == "unknown_service" and write.candidates[0] == "journalWriter"


def test_unknown_and_ambiguous_name_the_three_closest() -> None:
    r = resolve("billing", LEDGER, for_write=False)
    assert r.code == "ambiguous_service" and r.candidates[:2] == ("billing-api", "billing-worker")
    assert r.message().startswith("ambiguous service 'billing'; did you mean billing-api, billing-worker or ")
    r = resolve("payment processor", LEDGER, for_write=True)
    assert r.code == "unknown_service" and len(r.candidates) == 3
    assert closest("billing wrker", LEDGER, 2) == ("billing-worker", "billing-api")
    assert resolve("anything", from_names([], "t"), for_write=False).code == "unknown_service"


def test_mentions_keep_the_longest_span_and_never_guess() -> None:
    assert mentioned("restart orders db now", LEDGER) == ["orders-db"]  # not `orders` as well
    assert mentioned("why is the Journal Writer slow, and orders?", LEDGER) == ["journalWriter", "orders"]
    assert mentioned("restart it", LEDGER) == [] and mentioned("restart billing", LEDGER) == []
    assert mentioned("check the travel service", TRAIN) == ["ts-travel-service"]
    assert mentioned("the ui is down", TRAIN) == []  # a 2-letter stripped form is too weak to count
    span, score, near = closest_span("please restart the billing wrker", LEDGER)
    assert span == "billing wrker" and score > 80 and near[0] == "billing-worker"


def _with_alias(name: str, alias: str):  # type: ignore[no-untyped-def]
    from tools.inventory import Inventory

    return Inventory((ServiceFacts(name, (alias,), sources={"name": "t", "aliases": "t"}),))
