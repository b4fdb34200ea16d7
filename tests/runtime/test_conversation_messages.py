"""Earlier turns from chat messages: the entity, the finding and the open recommendation a follow-up refers to."""

from __future__ import annotations

from runtime.conversation import conversation_from_messages, mentioned_services

INV = ("billing-worker", "ledger-db", "payments/api", "checkoutService")


def _conv(*pairs: str, services: tuple[str, ...] = ()) -> object:
    msgs = []
    for i, text in enumerate(pairs):
        msgs.append({"role": "user" if i % 2 == 0 else "assistant", "content": text})
    return conversation_from_messages(msgs, services)


def test_recommendation_and_entity_from_a_root_cause_answer() -> None:
    c = _conv("why is cart slow?", "redis-cart crash -> restart_service")
    t = c.earlier[0]
    assert (t.entity, t.recommendation) == ("redis-cart", "restart_service service=redis-cart")
    assert t.finding == "redis-cart crash -> restart_service" and t.services == ("redis-cart",)
    c = _conv("why is checkout slow?", "checkoutservice p99 latency went from 120ms to 800ms. The likely root cause "
              "is shippingservice (score 0.82).")
    assert c.earlier[0].entity == "shippingservice" and c.earlier[0].recommendation is None


def test_names_of_the_given_inventory_in_any_spelling() -> None:
    assert mentioned_services("restart the Billing Worker and LEDGER_DB", INV) == ["billing-worker", "ledger-db"]
    assert mentioned_services("what about checkout service?", INV) == ["checkoutService"]
    assert mentioned_services("restart cartservice", INV) == []
    c = _conv("should we scale the billing worker?", "The policy recommends 6 replicas for billing-worker (now 3). "
              "Want me to scale billing-worker to 6?", services=INV)
    assert c.earlier[0].recommendation == "scale_service service=billing-worker replicas=6"
    assert c.services == INV


def test_topology_answer_keeps_the_asked_service_and_trailing_request_is_left_out() -> None:
    c = _conv("who does ledger-db talk to?", "ledger-db calls billing-worker, payments/api.", "restart it",
              services=INV)
    assert len(c.earlier) == 1 and c.earlier[0].entity == "ledger-db"
    assert conversation_from_messages([{"role": "system", "content": "be nice"}]).earlier == ()
    parts = [{"role": "user", "content": [{"type": "text", "text": "cpu of ledger-db"}]},
             {"role": "assistant", "content": "ledger-db cpu is 40% now."}]
    assert conversation_from_messages(parts, INV).earlier[0].entity == "ledger-db"
