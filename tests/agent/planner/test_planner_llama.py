"""Real planning calls on llama.cpp: the base model with the shipped adapter, and the grammar fallback."""

from __future__ import annotations

import pytest

from agent.planner import default_adapter, load_planner
from agent.planner.base import Step
from tests.ci import unavailable
from tools.envelope import ToolResult

pytestmark = [pytest.mark.slow, pytest.mark.native_model]


@pytest.fixture(scope="module")
def keel():  # type: ignore[no-untyped-def]
    try:
        import llama_cpp  # noqa: F401
    except ImportError as e:
        unavailable(f"llama-cpp-python is not installed: {e}")
    if not default_adapter().exists():
        unavailable(f"shipped adapter not present: {default_adapter()} (run `keel finetune slm`)")
    return load_planner("llama", adapter="default")


CASES = [
    ("show me cpu for the cart service over the last 2 hours",
     "query_metrics", {"service": "cartservice", "metric": "cpu", "window": "2h"}),
    ("why is checkout slow?", "root_cause_analysis", {"service": "checkoutservice"}),
    ("bump payments to three replicas pls", "scale_service", {"service": "paymentservice", "replicas": 3}),
    ("post a summary to #ops", "post_incident_summary", {"channel": "#ops"}),
]


@pytest.mark.parametrize(("request_text", "tool", "args"), CASES)
def test_adapter_plans_the_right_call(keel, request_text: str, tool: str, args: dict) -> None:  # type: ignore[no-untyped-def]
    call = keel.plan(request_text)
    assert call.ok, call.raw
    assert call.tool == tool, call.raw
    assert {k: call.args.get(k) for k in args} == args, call.raw
    assert call.latency_ms > 0


def test_planner_is_cached_and_reads_history(keel) -> None:  # type: ignore[no-untyped-def]
    assert load_planner("llama", adapter="default") is keel
    signature = {"kind": "crash", "action": "restart_service", "because": "replicas running 1->0"}
    ranking = [{"service": "paymentservice", "score": 0.9, "path": ["paymentservice"], "signature": signature},
               {"service": "checkoutservice", "score": 0.2, "path": ["checkoutservice"]}]
    history = [Step("root_cause_analysis", {"service": "checkoutservice"}, ToolResult.ok({"ranking": ranking}))]
    call = keel.plan("why is checkout slow?", history)  # acts on the analysis: the top candidate's logs or its fix
    assert call.ok and call.tool in ("search_logs", "restart_service"), call.raw
    assert call.args["service"] == "paymentservice", call.raw
    history.append(Step("restart_service", {"service": "paymentservice"}, ToolResult.ok({"service": "paymentservice"})))
    call = keel.plan("why is checkout slow?", history)
    assert call.ok and call.tool == "respond" and "paymentservice" in call.args["text"], call.raw


def test_grammar_decoding_always_yields_a_contract_call(keel) -> None:  # type: ignore[no-untyped-def]
    from agent.planner.validate import check_output

    raw = keel.complete(keel.prompt_for("restart the cart service"), 48, grammar=keel._grammar_obj())
    assert check_output(raw).ok, raw


def test_summary_is_grounded(keel) -> None:  # type: ignore[no-untyped-def]
    from runtime.summary import grounded

    f = {"symptom": {"service": "checkoutservice", "metric": "latency_p99", "before": 250.0, "now": 730.0,
                     "unit": "ms"}, "root_cause": {"service": "paymentservice", "score": 0.82}}
    text = keel.summarize(f)
    assert text and grounded(text, f)


def test_model_calls_run_on_one_thread_whatever_thread_asks(keel) -> None:  # type: ignore[no-untyped-def]
    """llama.cpp's buffers stay in one malloc arena: every decode (batched or not) runs on the model thread."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import llama_cpp
    import llama_cpp.llama_cpp as native

    seen: set[str] = set()
    real_pkg, real_native = llama_cpp.llama_decode, native.llama_decode

    def spy(real):  # type: ignore[no-untyped-def]
        def wrapped(*a):  # type: ignore[no-untyped-def]
            seen.add(threading.current_thread().name)
            return real(*a)
        return wrapped

    llama_cpp.llama_decode, native.llama_decode = spy(real_pkg), spy(real_native)
    try:
        with ThreadPoolExecutor(4) as pool:
            calls = list(pool.map(keel.plan, ["restart cartservice", "hi"] * 3))
    finally:
        llama_cpp.llama_decode, native.llama_decode = real_pkg, real_native
    assert all(c.ok for c in calls)
    assert len(seen) == 1 and next(iter(seen)).startswith("keel-llama"), seen


def test_warm_up_plans_without_counting(keel) -> None:  # type: ignore[no-untyped-def]
    before = (keel.calls, keel.fallbacks, keel.failures)
    assert keel.warm() > 0
    assert (keel.calls, keel.fallbacks, keel.failures) == before


@pytest.mark.parametrize(("request_text", "replicas"), [("scale frontend to 3 replicas", 3),
                                                        ("grow cartservice to forty replicas", 40)])
def test_grammar_decoding_ends_a_number_where_the_model_ends_it(keel, request_text: str,  # type: ignore[no-untyped-def]
                                                                 replicas: int) -> None:
    """The grammar admits the newline the model ends a call with; without it, "3" was padded to "300"."""
    from agent.planner.validate import check_output

    raw = keel.complete(keel.prompt_for(request_text), 48, grammar=keel._grammar_obj())
    checked = check_output(raw)
    assert checked.ok and checked.tool == "scale_service", raw
    assert checked.args["replicas"] == replicas, raw


LAZY_PROMPTS = [
    ("how healthy is tundra worker service over 5h", ("tundra-worker", "ledger-db", "web-gateway")),
    ("and the p99?", ("tundra-worker", "ledger-db")),
    ("scale payments to lots of replicas", None),
    ("what's up with the ledger db", ("tundra-worker", "ledger-db", "ledger-api")),
    ("hey there", None),
]


@pytest.mark.parametrize(("request_text", "services"), LAZY_PROMPTS)
def test_lazy_grammar_decodes_the_same_text_as_the_full_grammar(keel, request_text: str,  # type: ignore[no-untyped-def]
                                                                 services: tuple[str, ...] | None) -> None:
    from agent.planner.llama import MAX_CALL_TOKENS
    from runtime.conversation import Conversation
    from tools.inventory import from_names
    from tools.services import current_inventory, use_inventory

    ctx = Conversation(services=services) if services else None
    with use_inventory(from_names(services, "case") if services else current_inventory()):
        prompt = keel.prompt_for(request_text, (), ctx)
        for grammar in (keel._grammar_obj(), keel._grammar_obj(spans=False, tool="query_metrics")):
            full = keel._thread.submit(keel._complete, prompt, MAX_CALL_TOKENS, grammar, False).result()
            lazy = keel._thread.submit(keel._complete, prompt, MAX_CALL_TOKENS, grammar, True).result()
            assert lazy == full and full.strip()
            if keel._thread.batching:  # the batched path, from the prompt the free decode left cached
                keel.complete(prompt, MAX_CALL_TOKENS)
                assert keel.complete(prompt, MAX_CALL_TOKENS, grammar=grammar) == full
