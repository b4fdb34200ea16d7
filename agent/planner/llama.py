"""Planner backend on llama-cpp-python: the Q4_K_M base GGUF plus the LoRA adapter GGUF.

Decoding is greedy and unconstrained (stop at the newline that ends a call); the output is validated
against the contract, and only when it does not validate is it decoded again under the GBNF grammar built
from the schemas (a grammar on every token costs ~4x). If that still fails, the call is an honest "could
not plan that". `fallbacks` counts how often the grammar was needed.

Every llama.cpp call runs on one dedicated thread ("keel-llama", `batch_decoder.ModelThread`). With
`batching` on, free greedy completions from many callers decode together in one llama.cpp batch per step,
reusing cached token prefixes; grammar decoding runs alone on the same thread between steps. llama.cpp's
per-call native buffers land in the calling thread's malloc arena; called from a server's many request
threads, each thread's arena grew to hold them (glibc makes up to 8 arenas per core) and resident memory
kept climbing for the whole of a soak. `warm()` runs a few fixed prompts so the buffers exist before the
first user request.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agent.planner.base import RESPOND, PlannedCall, Step, could_not_plan
from agent.planner.batch_decoder import ModelThread
from agent.planner.grammar import call_grammar
from agent.planner.lazy_grammar import LazyGrammar
from agent.planner.prompt_lookup import DraftSettings
from agent.planner.spans import check_in_inventory, close_to, unknown_service_question, with_service
from runtime.conversation import Conversation
from runtime.grounded_targets import grounded_services
from runtime.prompt import render_prompt, render_summary_prompt
from runtime.summary import grounded, template_summary
from tools.contract import WRITE_TOOLS
from tools.envelope import ToolResult
from tools.resolution import words

MAX_CALL_TOKENS = 64
MAX_SUMMARY_TOKENS = 96

# A few examples in the call format, for the base model without adapter (the fine-tuned model needs none).
FEW_SHOT = """Request: cpu of the cart service over the last hour
Call: query_metrics service=cartservice metric=cpu window=1h
Request: search payment logs for timeout
Call: search_logs query=timeout service=paymentservice
Request: why is checkout slow?
Call: root_cause_analysis service=checkoutservice
Request: scale frontend to 4 replicas
Call: scale_service service=frontend replicas=4
Request: run the memory-leak runbook on cart
Call: run_runbook name=memory-leak service=cartservice
Request: thanks!
Call: respond text="You're welcome."
"""

# Fixed prompts for `warm()`: a one-liner and a longer multi-step prompt, so the buffers reach their size.
WARM_REQUESTS = ("why is checkout slow?", "restart cartservice", "show me error logs from paymentservice")


def ask_unknown(name: str, raw: str, constrained: bool, ms: float, context: Conversation | None) -> PlannedCall:
    """The reply to a call on a service name that resolves to nothing: a question with the closest names."""
    return PlannedCall(RESPOND, {"text": unknown_service_question(name, context)}, raw, constrained, ms, True)


class LlamaPlanner:
    """Base GGUF (+ optional LoRA adapter GGUF) served by llama.cpp; `few_shot` prefixes example calls."""

    concurrent = True  # plan() may be called from many threads at once (the model thread serialises or batches)

    lazy_grammar = True  # grammar decoding checks the best token first (agent.planner.lazy_grammar)

    def __init__(self, model_path: Path, adapter_path: Path | None = None, name: str = "keel",
                 n_threads: int = 2, few_shot: bool = False, n_ctx: int = 1024,
                 extra_bufts: bool | None = None, batching: bool = False, slots: int = 8,
                 drafts: DraftSettings | None = None) -> None:
        from finetune.slm.llama_runtime import load_llama

        self.name = name
        self.model_path, self.adapter_path = model_path, adapter_path
        self.few_shot = few_shot
        self.llm = load_llama(model_path, adapter_path, n_ctx=n_ctx, n_threads=n_threads, n_batch=256,
                              extra_bufts=extra_bufts)
        self.batching = batching
        self._thread = ModelThread(self.llm, batching=batching, slots=slots, drafts=drafts)
        self._grammars: dict[str, Any] = {}  # grammar text -> compiled LlamaGrammar
        self.calls = 0
        self.fallbacks = 0
        self.failures = 0

    def close(self) -> None:
        """Stop the model thread and free the model (idempotent)."""
        self._thread.shutdown(wait=True)
        self.llm.close()

    def _grammar_obj(self, spans: bool = True, services: tuple[str, ...] | None = None,
                     tool: str | None = None) -> Any:
        """The compiled grammar of `services` (default the current inventory's names), with or without free
        service spans, for every tool or only `tool` (compiled once per grammar text: a changed inventory
        compiles anew)."""
        text = call_grammar(tools=(tool,) if tool else None, respond=tool is None, spans=spans, services=services)
        if text not in self._grammars:
            from llama_cpp import LlamaGrammar

            if len(self._grammars) >= 8:
                self._grammars.clear()
            self._grammars[text] = LlamaGrammar.from_string(text, verbose=False)
        return self._grammars[text]

    def _complete(self, prompt: str, max_tokens: int, grammar: Any, lazy: bool | None = None) -> str:
        """Greedy under `grammar`: checked lazily (`lazy_grammar`, same text), or by llama.cpp on every token
        (`lazy=False`; default: the `lazy_grammar` attribute)."""
        checker = LazyGrammar(self.llm, grammar) if (self.lazy_grammar if lazy is None else lazy) else None
        constraint: dict[str, Any] = {"grammar": grammar}
        if checker is not None:
            from llama_cpp import LogitsProcessorList

            constraint = {"logits_processor": LogitsProcessorList([checker])}
        try:
            out = self.llm.create_completion(prompt, max_tokens=max_tokens, temperature=0.0, top_k=1,
                                             stop=["\n"], **constraint)
        finally:
            if checker is not None:
                checker.close()
        return str(out["choices"][0]["text"])

    def complete(self, prompt: str, max_tokens: int, grammar: Any = None, guess: str = "") -> str:
        """Greedy completion up to the end of the line, run on the model thread: batched when batching is on
        (under a grammar too, checked lazily, reusing the prompt the free decode left cached and drafting the
        free decode's text, `guess`, while it still fits), else alone."""
        if grammar is None:
            return self._thread.complete(prompt, max_tokens).result()
        if self._thread.batching and self.lazy_grammar:
            checker = LazyGrammar(self.llm, grammar)
            try:
                return self._thread.complete(prompt, max_tokens, choose=checker.choose, guess=guess).result()
            finally:
                checker.close()
        return self._thread.submit(self._complete, prompt, max_tokens, grammar).result()

    def decode_stats(self) -> dict[str, float]:
        """The model thread's counters (`batch_decoder.DecodeStats`)."""
        return self._thread.stats().to_dict()

    def warm(self) -> float:
        """Plan a few fixed requests (one- and multi-step prompts, and once under the grammar) so llama.cpp's
        buffers are allocated before the first user request; returns the seconds it took. Counters untouched."""
        t0 = time.perf_counter()
        rca = {"ranking": [{"service": "paymentservice", "signature": {"kind": "crash", "action": "restart_service"}},
                           {"service": "checkoutservice"}, {"service": "frontend"}]}
        history = [Step("root_cause_analysis", {"service": "checkoutservice"}, ToolResult.ok(rca))]
        for text in WARM_REQUESTS:
            self.complete(self.prompt_for(text), MAX_CALL_TOKENS)
            self.complete(self.prompt_for(text, history), MAX_CALL_TOKENS)
        self.complete(self.prompt_for(WARM_REQUESTS[0]), MAX_CALL_TOKENS, grammar=self._grammar_obj())
        return time.perf_counter() - t0

    def prompt_for(self, request: str, history: Sequence[Step] = (), context: Conversation | None = None) -> str:
        p = render_prompt(request, history, context)
        return FEW_SHOT + p if self.few_shot else p

    def plan(self, request: str, history: Sequence[Step] = (),
             context: Conversation | None = None) -> PlannedCall:
        """Decode freely; a service span that resolves to nothing is decoded again for the same tool among the
        services the user named (`_choose_known`), else becomes a question; any other invalid output is decoded
        again under the full grammar."""
        t0 = time.perf_counter()
        prompt = self.prompt_for(request, history, context)
        self.calls += 1
        raw = self.complete(prompt, MAX_CALL_TOKENS)
        checked = check_in_inventory(raw, context)
        if checked.ok:
            return PlannedCall(checked.tool, checked.args, raw, False, (time.perf_counter() - t0) * 1e3, True)
        if checked.code == "unknown_service" and checked.service is not None:
            return self._choose_known(prompt, request, checked.tool, checked.service, raw, t0, context)
        self.fallbacks += 1
        raw2 = self.complete(prompt, MAX_CALL_TOKENS, grammar=self._grammar_obj(), guess=raw)
        checked = check_in_inventory(raw2, context)
        ms = (time.perf_counter() - t0) * 1e3
        if checked.ok:
            return PlannedCall(checked.tool, checked.args, raw2, True, ms, True)
        if checked.code == "unknown_service" and checked.service is not None:
            return ask_unknown(checked.service, raw2, True, ms, context)
        self.failures += 1
        return could_not_plan(raw2 or raw, ms)

    def _choose_known(self, prompt: str, request: str, tool: str, span: str, raw: str, t0: float,
                      context: Conversation | None) -> PlannedCall:
        """The model's service span names nothing in the inventory: decode the same tool again choosing among
        the services the user (or the conversation) named, by name, alias or near-variant. When exactly one
        service was named, the grammar could only choose it: it replaces the span in the model's call without
        a second decode (a grammar decode costs ~0.5 s). When nobody named any, a write is asked about,
        quoting the span. A read may still mean a name the span misspells (`close_to`: "spmndle-db" ->
        spindle-db); failing that, a span the user never wrote is dropped where the tool's service is optional
        ("check the logs for exception" searches every service's logs), and anything else is asked about: a
        pick among all the names would be a guess ("and the p99?" with no service in sight became the p99 of
        some service)."""
        self.fallbacks += 1
        named = tuple(grounded_services(request, context))
        if not named and tool not in WRITE_TOOLS:
            named = close_to(span, context)
            if not named and not set(words(span)) <= set(words(request)):
                without = with_service(raw, None, context)
                if without.ok and without.tool == tool:
                    return PlannedCall(tool, without.args, raw, True, (time.perf_counter() - t0) * 1e3, True)
        if not named:
            return ask_unknown(span, raw, False, (time.perf_counter() - t0) * 1e3, context)
        if len(named) == 1:  # one service fits: it goes into the model's own call, no second decode
            swapped = with_service(raw, named[0], context)
            if swapped.ok and swapped.tool == tool:
                return PlannedCall(tool, swapped.args, raw, True, (time.perf_counter() - t0) * 1e3, True)
        # The first decode chose the tool; only its service span failed, so the retry keeps the tool.
        grammar = self._grammar_obj(spans=False, services=named, tool=tool)
        raw2 = self.complete(prompt, MAX_CALL_TOKENS, grammar=grammar, guess=raw)
        checked = check_in_inventory(raw2, context)
        ms = (time.perf_counter() - t0) * 1e3
        if checked.ok and checked.args.get("service") in (None, *named):
            return PlannedCall(checked.tool, checked.args, raw2, True, ms, True)
        return ask_unknown(span, raw, True, ms, context)

    def summarize(self, findings: dict) -> str:
        """The model's 1-3 sentence summary, or the template one if it names anything not in the findings."""
        try:
            text = self.complete(render_summary_prompt(findings), MAX_SUMMARY_TOKENS).strip()
        except Exception:  # a summary never breaks the caller
            text = ""
        if text and grounded(text, findings):
            return text
        return template_summary(findings)
