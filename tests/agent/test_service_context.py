"""The conversation so far reaches the planner: from the OpenAI messages, or from the checkpoint's earlier turns;
the reply says which service a reference was taken to mean."""

from __future__ import annotations

from pathlib import Path

from agent.http.routes_openai import ChatRequest
from agent.slack.handlers import thread_conversation_id
from governance.gate import Principal
from runtime.conversation import Conversation, EarlierTurn
from tests.agent.fakes import ScriptedPlanner, call, make_service

OLGA = Principal("olga", "operator")


def test_openai_messages_before_the_last_user_message_are_the_earlier_turns() -> None:
    body = ChatRequest.model_validate({"messages": [
        {"role": "system", "content": "you are keel"},
        {"role": "user", "content": "why is cart slow?"},
        {"role": "assistant", "content": "redis-cart crash -> restart_service"},
        {"role": "user", "content": "ok restart it"}]})
    ctx = body.context()
    assert body.request_text() == "ok restart it"
    assert ctx is not None and [t.request for t in ctx.earlier] == ["why is cart slow?"]
    assert ctx.earlier[0].recommendation == "restart_service service=redis-cart"
    assert ChatRequest.model_validate({"messages": [{"role": "user", "content": "hi"}]}).context() is None


def test_checkpoint_turns_become_context_and_the_reply_names_the_reference(tmp_path: Path) -> None:
    planner = ScriptedPlanner(script=[call("query_metrics", {"service": "cartservice", "metric": "cpu"})])
    service, _ = make_service(tmp_path, planner)
    assert service.checkpoint_context("c-ctx") is None
    service.ask("cpu of cart", OLGA, "c-ctx")
    ctx = service.checkpoint_context("c-ctx")
    assert ctx is not None and ctx.earlier[0].request == "cpu of cart" and ctx.earlier[0].entity == "cartservice"
    planner.script = [call("query_metrics", {"service": "cartservice", "metric": "memory"})]
    events = list(service.stream("and memory?", OLGA, "c-ctx"))
    notes = [e.data["text"] for e in events if e.kind == "note"]
    assert notes == ["Checking memory of cartservice (from your previous question)."]
    reply = service.ask("and memory?", OLGA, "c-ctx2", context=ctx)
    assert reply.text.startswith("Checking memory of cartservice (from your previous question).")
    named = service.ask("memory of cartservice", OLGA, "c-ctx3", context=ctx)
    assert not named.text.startswith("Checking")  # the request named it: no note


def test_explicit_context_wins_over_the_checkpoint(tmp_path: Path) -> None:
    planner = ScriptedPlanner(script=[call("query_metrics", {"service": "paymentservice", "metric": "cpu"})])
    service, _ = make_service(tmp_path, planner)
    ctx = Conversation(earlier=(EarlierTurn("cpu of payments", "paymentservice cpu is 40%", "paymentservice"),))
    events = list(service.stream("and its cpu?", OLGA, "c-new", context=ctx))
    assert [e.data["text"] for e in events if e.kind == "note"] == \
        ["Checking cpu of paymentservice (from your previous question)."]


def test_one_conversation_per_slack_thread() -> None:
    root = {"channel": "C0OPS", "ts": "1700000000.000200"}
    reply = {"channel": "C0OPS", "ts": "1700000050.000100", "thread_ts": "1700000000.000200"}
    assert thread_conversation_id(root) == thread_conversation_id(reply) == "slack-C0OPS-1700000000.000200"
    assert thread_conversation_id({"channel": "C0OPS", "ts": "1700000099.1"}) != thread_conversation_id(root)
