"""Planner API pieces without a model: call format, validation, grammar, fallback logic, summaries, keyword."""

from __future__ import annotations

from typing import Any

import pytest

from agent.planner import load_planner
from agent.planner.base import COULD_NOT_PLAN, Step
from agent.planner.grammar import call_grammar
from agent.planner.keyword import route
from agent.planner.llama import LlamaPlanner
from agent.planner.validate import check_output
from runtime.prompt import decode_call, encode_call, render_observation, render_prompt
from runtime.summary import grounded, template_summary
from tools.envelope import ToolResult


def test_compact_call_round_trip() -> None:
    args = {"query": 'said "no" twice', "service": "cartservice", "limit": 50}
    line = encode_call("search_logs", args)
    assert line == 'search_logs query="said \\"no\\" twice" service=cartservice limit=50'
    assert decode_call(line) == ("search_logs", args)
    assert decode_call('{"tool": "get_topology", "args": {}}') == ("get_topology", {})
    with pytest.raises(ValueError):
        decode_call("query_metrics service=")


def test_validation_resolves_aliases_and_durations() -> None:
    c = check_output(" query_metrics service=checkout metric=latency_p99 window=60m\n")
    assert c.ok and c.args == {"service": "checkoutservice", "metric": "latency_p99", "window": "1h"}
    bad = check_output("scale_service service=checkout replicas=lots")
    assert not bad.ok and "replicas" in (bad.error or "")
    assert not check_output("drop_database").ok
    assert check_output('respond text="hi"').args == {"text": "hi"}


def test_prompt_renders_compact_observations() -> None:
    step = Step("query_metrics", {"service": "paymentservice", "metric": "latency_p99", "window": "15m"},
                ToolResult.ok({"unit": "ms", "start": 250.0, "current": 730.0, "max": 800.0}))
    assert render_observation(step.tool, step.args, step.result) == \
        "query_metrics paymentservice latency_p99: 250->730ms (max 800ms)"
    prompt = render_prompt("why is checkout slow?", [step])
    assert prompt.splitlines() == ["Request: why is checkout slow?",
                                   "Seen: query_metrics paymentservice latency_p99: 250->730ms (max 800ms)", "Call:"]
    err = render_observation("root_cause_analysis", {}, ToolResult.fail("not available yet"))
    assert err == "root_cause_analysis: error: not available yet"


def test_grammar_parses_in_llama_cpp() -> None:
    from llama_cpp import LlamaGrammar

    g = call_grammar()
    assert '"paymentservice"' in g and '"latency_p99"' in g and '"bad-deploy"' in g
    LlamaGrammar.from_string(g, verbose=False)


class _FakeLlm:
    """Stands in for llama.cpp: returns scripted outputs, records whether a grammar was passed."""

    def __init__(self, outputs: list[str]) -> None:
        self.outputs = outputs
        self.grammars: list[bool] = []

    def create_completion(self, prompt: str, grammar: Any = None, **_: Any) -> dict[str, Any]:
        self.grammars.append(grammar is not None)
        return {"choices": [{"text": self.outputs.pop(0)}]}


class _AnyGrammar(dict):  # type: ignore[type-arg]
    """Every grammar text is "compiled" (the fake llm only records that a grammar was passed); the texts asked
    for are kept in `texts`."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def __contains__(self, key: object) -> bool:
        self.texts.append(str(key))
        return True

    def __getitem__(self, key: object) -> object:
        return object()


def _planner(outputs: list[str]) -> LlamaPlanner:
    from agent.planner.batch_decoder import ModelThread

    p = LlamaPlanner.__new__(LlamaPlanner)  # a fake llm instead of loading the model
    p.name, p.few_shot, p._grammars = "keel", False, _AnyGrammar()
    p.lazy_grammar = False  # the fake has no vocabulary to check tokens against: the grammar goes to it whole
    p.calls = p.fallbacks = p.failures = 0
    p.llm = _FakeLlm(outputs)
    p._thread = ModelThread(p.llm, batching=False)  # the unbatched path: create_completion on the model thread
    return p


def test_valid_output_needs_no_grammar() -> None:
    p = _planner([" restart_service service=cart"])
    call = p.plan("bounce cart")
    assert (call.tool, call.args, call.ok, call.constrained) == ("restart_service", {"service": "cartservice"},
                                                                True, False)
    assert p.llm.grammars == [False] and p.fallbacks == 0


def test_invalid_output_falls_back_to_grammar_then_gives_up_honestly() -> None:
    p = _planner([" scale_service service=cart replicas=lots", " scale_service service=cartservice replicas=3"])
    call = p.plan("scale cart to 3")
    assert call.ok and call.constrained and call.args == {"service": "cartservice", "replicas": 3}
    assert p.llm.grammars == [False, True] and p.fallbacks == 1
    p = _planner(["gibberish", "still gibberish"])
    call = p.plan("???")
    assert not call.ok and call.tool == "respond" and call.args["text"] == COULD_NOT_PLAN and p.failures == 1


def test_summary_grounding_and_template() -> None:
    f = {"symptom": {"service": "checkoutservice", "metric": "latency_p99", "before": 250.0, "now": 730.0,
                     "unit": "ms"}, "root_cause": {"service": "paymentservice", "score": 0.82}}
    text = template_summary(f)
    assert text == ("checkoutservice p99 latency went from 250ms to 730ms. "
                    "The likely root cause is paymentservice (score 0.82).")
    assert grounded(text, f)
    assert not grounded("paymentservice p99 hit 900ms.", f)
    assert not grounded("cartservice is the root cause.", f)
    p = _planner(["cartservice crashed 3 times."])
    assert p.summarize(f) == text


def test_keyword_router_and_loader() -> None:
    assert route("why is checkout slow?") == ("root_cause_analysis", {"service": "checkoutservice"})
    assert route("scale cart to 3") == ("scale_service", {"service": "cartservice", "replicas": 3})
    kw = load_planner("keyword")
    assert kw is load_planner("keyword") and kw.name == "keyword"
    with pytest.raises(ValueError, match="allowed"):
        load_planner("gpt")
    with pytest.raises(FileNotFoundError, match="keel finetune slm"):
        load_planner("llama", adapter="/nonexistent/adapter.gguf")


def test_unknown_service_becomes_a_question_not_a_grammar_guess() -> None:
    # a write whose span names nothing, and the request names no known service: asked at once, no retry
    p = _planner([" restart_service service=billing"])
    call = p.plan("bounce billing")
    assert call.ok and call.tool == "respond" and not call.constrained
    assert call.args["text"].startswith("I don't see a service called billing. Did you mean ")
    assert p.llm.grammars == [False] and p.fallbacks == 1
    # a read is asked the same way: a pick among all the known names would be a guess
    p = _planner([" get_topology service=billing", " get_topology service=cartservice"])
    call = p.plan("what does billing call?")
    assert call.tool == "respond" and call.args["text"].startswith("I don't see a service called billing.")
    assert p.llm.grammars == [False] and not p._grammars.texts


def test_the_retry_keeps_the_tool_the_model_chose() -> None:
    from runtime.conversation import Conversation

    inv = Conversation(services=("quarry-api", "quarry-worker", "ledger-db"))
    p = _planner([" rollback_deployment service=quarryx", " rollback_deployment service=quarry-api"])
    call = p.plan("quarry api or quarry worker regressed after the deploy, roll back", context=inv)
    assert (call.tool, call.args) == ("rollback_deployment", {"service": "quarry-api"}) and call.constrained
    (retry,) = p._grammars.texts
    assert "call-rollback-deployment ::=" in retry and "call-root-cause-analysis" not in retry
    assert 'enum-service ::= "quarry-api" | "quarry-worker"' in retry  # only the services the request names


def test_a_read_nobody_named_takes_a_close_name_drops_a_made_up_span_or_asks() -> None:
    from runtime.conversation import Conversation

    inv = Conversation(services=("spindle-db", "tundra-api", "ledger-worker"))
    # a misspelt name close to exactly one service: that service, no second decode
    p = _planner([" search_logs service=spmndle-db level=warn"])
    call = p.plan("has spmndle-db logged warnings?", context=inv)
    assert (call.tool, call.args["service"]) == ("search_logs", "spindle-db") and p.llm.grammars == [False]
    # a service the user never wrote, on a tool whose service is optional: left out (every service's logs)
    p = _planner([" search_logs service=checkoutservice query=exception"])
    call = p.plan("can you check the logs for exception", context=inv)
    assert call.tool == "search_logs" and "service" not in call.args and call.args["query"] == "exception"
    # a word the user wrote that names nothing: asked, not the p99 of some service
    p = _planner([" query_metrics service=p99 metric=latency_p99", " query_metrics service=tundra-api"])
    call = p.plan("and the p99?", context=inv)
    assert call.tool == "respond" and "p99" in call.args["text"] and p.llm.grammars == [False]
    p = _planner([" get_topology service=billing"])
    assert p.plan("what does billing call?", context=inv).tool == "respond"


def test_one_named_service_replaces_the_span_without_a_second_decode() -> None:
    from runtime.conversation import Conversation

    inv = Conversation(services=("quarry-api", "ledger-db"))
    p = _planner([" query_metrics service=quarryx metric=cpu window=1h"])
    call = p.plan("quarry api cpu over the last hour", context=inv)
    assert (call.tool, call.args["service"], call.args["metric"], call.args["window"]) == (
        "query_metrics", "quarry-api", "cpu", "1h")
    assert call.constrained and p.llm.grammars == [False] and p.fallbacks == 1  # the model ran once
    # the swapped call must still validate: otherwise the grammar decides, as before
    p = _planner([" query_metrics service=quarryx metric=loudness", " query_metrics service=quarry-api metric=cpu"])
    call = p.plan("quarry api loudness", context=inv)
    assert call.args["metric"] == "cpu" and p.llm.grammars == [False, True]


def test_an_unknown_span_may_become_the_known_name_the_user_wrote() -> None:
    # a misspelt span: the retry among known names picks the one the request names as a near-variant
    p = _planner([" restart_service service=recomendations", " restart_service service=recommendationservice"])
    call = p.plan("restart recomendations please")
    assert call.ok and (call.tool, call.args) == ("restart_service", {"service": "recommendationservice"})
    assert call.constrained and p.llm.grammars == [False]  # one near-variant named: no second decode


def test_copied_span_resolves_in_the_conversation_inventory() -> None:
    from runtime.conversation import Conversation

    inv = Conversation(services=("billing-worker", "ledger-db", "payments/api"))
    p = _planner([' restart_service service="billing worker"'])
    assert p.plan("restart the billing worker", context=inv).args == {"service": "billing-worker"}
    p = _planner([" query_metrics service=LEDGER_DB metric=cpu"])
    assert p.plan("cpu of LEDGER_DB", context=inv).args["service"] == "ledger-db"
    # a shop name is unknown in this inventory; the retry among its names picks one nobody named: asked
    p = _planner([" rollback_deployment service=cartservice", " rollback_deployment service=ledger-db"])
    call = p.plan("roll back cartservice", context=inv)
    assert call.tool == "respond" and "cartservice" in call.args["text"]


def test_grammar_admits_names_outside_the_inventory() -> None:
    from llama_cpp import LlamaGrammar

    g = call_grammar(services=("billing-worker",))
    assert 'service-value ::= enum-service | bare | quoted' in g and '"billing-worker"' in g
    LlamaGrammar.from_string(g, verbose=False)
    LlamaGrammar.from_string(call_grammar(services=()), verbose=False)


def test_prompt_carries_earlier_lines() -> None:
    from runtime.conversation import Conversation, EarlierTurn

    ctx = Conversation(earlier=tuple(EarlierTurn(f"request {i} " + "x" * 200, entity="cartservice",
                                                 finding="cartservice crash", recommendation=None)
                                     for i in range(5)))
    lines = render_prompt("restart it", context=ctx).splitlines()
    assert [ln.split(" ")[1] for ln in lines[:-2]] == ["request", "request", "request"]  # the last three only
    assert lines[0].startswith("Earlier: request 2 ")
    assert lines[0].endswith("| about cartservice | found cartservice crash")
    assert len(lines[0]) < 160 and lines[-2:] == ["Request: restart it", "Call:"]
    assert render_prompt("restart it", context=Conversation()) == "Request: restart it\nCall:"
