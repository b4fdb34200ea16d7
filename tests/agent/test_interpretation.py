"""The note that says which service a reference ("restart it", "do it") was taken to mean."""

from __future__ import annotations

from agent.interpretation import reference_note
from runtime.conversation import Conversation, EarlierTurn

CTX = Conversation(earlier=(EarlierTurn("why is cart slow?", "redis-cart crash -> restart_service", "redis-cart",
                                        "redis-cart crash", "restart_service service=redis-cart", ("redis-cart",)),))


def test_note_names_the_service_and_where_it_came_from() -> None:
    assert reference_note("do it", "restart_service", {"service": "redis-cart"}, CTX) == \
        "Restarting redis-cart (the recommendation in my last answer)."
    ctx = Conversation(earlier=(EarlierTurn("cpu of cart", "cartservice cpu is 40%", "cartservice"),))
    assert reference_note("restart it", "restart_service", {"service": "cartservice"}, ctx) == \
        "Restarting cartservice (from your previous question)."
    assert reference_note("and memory?", "query_metrics", {"service": "cartservice", "metric": "memory"}, ctx) == \
        "Checking memory of cartservice (from your previous question)."


def test_no_note_when_the_request_names_the_service_or_there_is_no_history() -> None:
    assert reference_note("restart redis-cart", "restart_service", {"service": "redis-cart"}, CTX) is None
    assert reference_note("restart it", "restart_service", {"service": "redis-cart"}, None) is None
    assert reference_note("restart it", "restart_service", {"service": "frontend"}, CTX) is None  # not from history
    assert reference_note("show the graph", "get_topology", {}, CTX) is None
