"""Batched decoding on the real model: the same greedy text as one call at a time, prefix reuse, one thread."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from agent.planner import default_adapter, load_planner
from agent.planner.base import Step
from runtime.conversation import Conversation, EarlierTurn
from runtime.prompt import render_prompt
from tests.ci import unavailable
from tools.envelope import ToolResult

pytestmark = [pytest.mark.slow, pytest.mark.native_model]

RCA = {"ranking": [{"service": "paymentservice", "score": 0.9, "path": ["paymentservice"],
                    "signature": {"kind": "crash", "action": "restart_service", "because": "replicas 1->0"}},
                   {"service": "checkoutservice", "score": 0.2, "path": ["checkoutservice"]}]}
METRICS = {"service": "checkoutservice", "metric": "latency_p99", "unit": "ms",
           "points": [[0, 250.0], [60, 400.0], [120, 730.0]]}
LOGS = {"total_matches": 12, "lines": [{"service": "paymentservice", "level": "error",
                                        "message": "connection refused"}]}
EARLIER = Conversation(earlier=(
    EarlierTurn("why is checkout slow?", entity="checkoutservice", finding="paymentservice crash",
                recommendation="restart_service service=paymentservice"),))
TWO_EARLIER = Conversation(earlier=(
    EarlierTurn("show cart memory", entity="cartservice", finding="cartservice memory 300->900MB"),
    EarlierTurn("any errors in cart logs?", entity="cartservice", finding="12 OOM lines")))


def _prompts() -> list[str]:
    rca = Step("root_cause_analysis", {"service": "checkoutservice"}, ToolResult.ok(RCA))
    met = Step("query_metrics", {"service": "checkoutservice", "metric": "latency_p99"}, ToolResult.ok(METRICS))
    logs = Step("search_logs", {"service": "paymentservice", "level": "error"}, ToolResult.ok(LOGS))
    return [
        render_prompt("why is checkout slow?"),
        render_prompt("restart cartservice"),
        render_prompt("show me error logs from paymentservice"),
        render_prompt("cpu of the cart service over the last 2 hours"),
        render_prompt("bump payments to three replicas pls"),
        render_prompt("hi there"),
        render_prompt("what calls redis-cart?"),
        render_prompt("post a summary to #ops"),
        render_prompt("why is checkout slow?", [rca]),
        render_prompt("why is checkout slow?", [rca, logs]),
        render_prompt("is checkout latency back to normal?", [met]),
        render_prompt("do it", (), EARLIER),
        render_prompt("and the logs?", (), TWO_EARLIER),
        render_prompt("what about now?", [met], EARLIER),
        render_prompt("restart it", [rca], TWO_EARLIER),
    ]


@pytest.fixture(scope="module")
def planners() -> tuple[Any, Any]:
    try:
        import llama_cpp  # noqa: F401
    except ImportError as e:
        unavailable(f"llama-cpp-python is not installed: {e}")
    if not default_adapter().exists():
        unavailable(f"shipped adapter not present: {default_adapter()} (run `keel finetune slm`)")
    return load_planner("llama", "default", batching=False), load_planner("llama", "default", batching=True)


def test_batched_greedy_text_is_identical_to_one_at_a_time(planners: tuple[Any, Any]) -> None:
    plain, batched = planners
    prompts = _prompts()
    assert len(set(prompts)) == len(prompts) == 15
    reference = [plain.complete(p, 64) for p in prompts]  # create_completion, one call at a time
    assert all(r.strip() for r in reference)
    alone = [batched.complete(p, 64) for p in prompts]  # the engine, one sequence per step
    with ThreadPoolExecutor(len(prompts)) as pool:  # all at once: several sequences in each llama_decode
        before = batched.decode_stats()
        together = list(pool.map(lambda p: batched.complete(p, 64), prompts))
        after = batched.decode_stats()
    assert alone == reference
    assert together == reference
    steps = after["steps"] - before["steps"]
    assert (after["generated_tokens"] - before["generated_tokens"]) / steps > 1.5  # they really shared batches


def test_summary_length_completions_match_too(planners: tuple[Any, Any]) -> None:
    from runtime.prompt import render_summary_prompt

    plain, batched = planners
    f = {"symptom": {"service": "checkoutservice", "metric": "latency_p99", "before": 250.0, "now": 730.0,
                     "unit": "ms"}, "root_cause": {"service": "paymentservice", "score": 0.82}}
    prompts = [render_summary_prompt(f), *_prompts()[:3]]
    reference = [plain.complete(p, 96) for p in prompts]
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(lambda p: batched.complete(p, 96), prompts)) == reference


def test_next_step_of_a_conversation_evaluates_only_the_new_lines(planners: tuple[Any, Any]) -> None:
    plain, batched = planners
    rca = Step("root_cause_analysis", {"service": "checkoutservice"}, ToolResult.ok(RCA))
    logs = Step("search_logs", {"service": "paymentservice", "level": "error"}, ToolResult.ok(LOGS))
    steps = [render_prompt("restart it", [], TWO_EARLIER), render_prompt("restart it", [rca], TWO_EARLIER),
             render_prompt("restart it", [rca, logs], TWO_EARLIER)]
    other = [render_prompt("show me error logs from paymentservice", [], EARLIER),
             render_prompt("what calls redis-cart?", [logs])]
    evaluated = []
    texts, other_texts = [], []
    start = batched.decode_stats()
    for i, p in enumerate(steps):
        before = batched.decode_stats()
        texts.append(batched.complete(p, 64))
        after = batched.decode_stats()
        evaluated.append(after["evaluated_tokens"] - before["evaluated_tokens"])
        n_prompt = after["prompt_tokens"] - before["prompt_tokens"]
        assert after["reused_tokens"] - before["reused_tokens"] + evaluated[-1] == n_prompt
        if i < len(other):  # another conversation takes the sequence in between: the prefix is spilled and back
            other_texts.append(batched.complete(other[i], 64))
    n_second = len(plain.llm.tokenize(steps[1].encode(), add_bos=True, special=True))
    assert evaluated[1] < n_second / 2, (evaluated, n_second)  # the earlier lines and request were cached
    assert evaluated[2] < len(plain.llm.tokenize(steps[2].encode(), add_bos=True, special=True)) / 2
    assert batched.decode_stats()["stream_copies"] - start["stream_copies"] >= 2
    assert texts == [plain.complete(p, 64) for p in steps]
    assert other_texts == [plain.complete(p, 64) for p in other]


def test_grammar_decoding_and_batches_share_the_one_model_thread(planners: tuple[Any, Any],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Every native decode (batch steps and grammar decoding through the high-level Llama) runs on one thread."""
    import llama_cpp
    import llama_cpp.llama_cpp as native

    _, batched = planners
    seen: set[str] = set()

    def spy(real: Any) -> Any:
        def wrapped(*a: Any) -> Any:
            seen.add(threading.current_thread().name)
            return real(*a)
        return wrapped

    monkeypatch.setattr(llama_cpp, "llama_decode", spy(llama_cpp.llama_decode))
    monkeypatch.setattr(native, "llama_decode", spy(native.llama_decode))
    grammar = batched._grammar_obj()
    with ThreadPoolExecutor(6) as pool:
        free = [pool.submit(batched.plan, r) for r in ["restart cartservice", "hi", "why is checkout slow?"] * 2]
        constrained = pool.submit(batched.complete, render_prompt("restart the cart service"), 48, grammar)
        calls = [f.result() for f in free]
        assert constrained.result().strip().startswith("restart_service")
    assert all(c.ok for c in calls)
    assert len(seen) == 1 and next(iter(seen)).startswith("keel-llama"), seen


def test_planned_calls_are_the_same_with_and_without_batching(planners: tuple[Any, Any]) -> None:
    plain, batched = planners
    requests = ["why is checkout slow?", "restart cartservice", "scale frontend to 4 replicas",
                "search payment logs for timeout", "restart the flux capacitor", "thanks!"]
    one = [plain.plan(r) for r in requests]
    with ThreadPoolExecutor(len(requests)) as pool:
        many = list(pool.map(batched.plan, requests))
    assert [(c.tool, c.args, c.raw, c.constrained) for c in one] == [(c.tool, c.args, c.raw, c.constrained)
                                                                      for c in many]


def test_prompt_lookup_drafts_shorten_a_copied_answer_and_keep_its_text(planners: tuple[Any, Any]) -> None:
    """An answer quoting the last finding is drafted from the prompt: fewer steps, the same greedy text."""
    plain, batched = planners
    why = Conversation(earlier=(EarlierTurn(
        "what is checkoutservice's p99 latency?", entity="checkoutservice",
        finding="checkoutservice latency_p99 is 773ms now (from 26ms, max 780ms over 15m)"),))
    prompts = [render_prompt("explain that", (), why), render_prompt("what makes you think so?", (), why)]
    before = batched.decode_stats()
    texts = [batched.complete(p, 64) for p in prompts]
    after = batched.decode_stats()
    assert texts == [plain.complete(p, 64) for p in prompts]
    assert any("773ms" in t for t in texts), texts  # the answers do quote the finding
    drafted = after["drafted_tokens"] - before["drafted_tokens"]
    confirmed = after["accepted_tokens"] - before["accepted_tokens"]
    generated = after["generated_tokens"] - before["generated_tokens"]
    steps = after["steps"] - before["steps"]
    assert confirmed >= 8 and confirmed <= drafted, (confirmed, drafted)
    assert steps < generated, (steps, generated)  # each confirmed token saved a step


def test_a_grammar_retry_drafts_the_free_text_and_decodes_the_same_line(planners: tuple[Any, Any]) -> None:
    """Under the grammar, the free decode's text is drafted while it still fits: same line as without it."""
    from agent.planner.lazy_grammar import LazyGrammar

    _, batched = planners
    grammar = batched._grammar_obj()
    prompt = render_prompt("restart the cart service")
    free = batched.complete(prompt, 64)

    def retry(guess: str) -> str:
        checker = LazyGrammar(batched.llm, grammar)
        try:
            return batched._thread.complete(prompt, 64, choose=checker.choose, guess=guess).result()
        finally:
            checker.close()

    before = batched.decode_stats()
    with_guess = retry(free)
    confirmed = batched.decode_stats()["accepted_tokens"] - before["accepted_tokens"]
    assert with_guess == retry("") == batched._complete(prompt, 64, grammar, lazy=False)
    assert with_guess.strip().startswith("restart_service")
    assert confirmed >= 4, confirmed
