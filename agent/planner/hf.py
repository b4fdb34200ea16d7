"""Planner backend on transformers: the float model dequantised from the base GGUF, plus the same LoRA.

Same prompt format and validation as the llama.cpp backend, for parity checks. The adapter is read from
the GGUF adapter file (so both backends run the very same weights). There is no grammar here: an output
that does not validate becomes an honest "could not plan that".
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

from agent.planner.base import PlannedCall, Step, could_not_plan
from agent.planner.llama import FEW_SHOT, MAX_CALL_TOKENS, MAX_SUMMARY_TOKENS, ask_unknown
from agent.planner.spans import check_in_inventory
from runtime.conversation import Conversation
from runtime.prompt import render_prompt, render_summary_prompt
from runtime.summary import grounded, template_summary


class HFPlanner:
    def __init__(self, adapter: Path | None = None, name: str = "keel", few_shot: bool = False,
                 threads: int = 2) -> None:
        from finetune.slm.base_model import load_float_model
        from finetune.slm.export_gguf import attach_gguf_adapter

        self.name = name
        self.few_shot = few_shot
        self.tok, model = load_float_model(threads)
        self.model = attach_gguf_adapter(model, adapter) if adapter else model
        self._lock = threading.Lock()
        self.calls = 0
        self.fallbacks = 0
        self.failures = 0

    def complete(self, prompt: str, max_tokens: int) -> str:
        import torch

        ids = self.tok(prompt, return_tensors="pt").input_ids
        newline = self.tok("\n", add_special_tokens=False).input_ids
        with self._lock, torch.no_grad():
            out = self.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_tokens,
                                      do_sample=False, eos_token_id=[self.tok.eos_token_id, *newline],
                                      pad_token_id=self.tok.pad_token_id)
        return str(self.tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True)).split("\n")[0]

    def plan(self, request: str, history: Sequence[Step] = (),
             context: Conversation | None = None) -> PlannedCall:
        t0 = time.perf_counter()
        prompt = render_prompt(request, history, context)
        self.calls += 1
        raw = self.complete(FEW_SHOT + prompt if self.few_shot else prompt, MAX_CALL_TOKENS)
        checked = check_in_inventory(raw, context)
        ms = (time.perf_counter() - t0) * 1e3
        if checked.ok:
            return PlannedCall(checked.tool, checked.args, raw, False, ms, True)
        if checked.code == "unknown_service" and checked.service is not None:
            return ask_unknown(checked.service, raw, False, ms, context)
        self.failures += 1
        return could_not_plan(raw, ms, constrained=False)

    def summarize(self, findings: dict) -> str:
        text = self.complete(render_summary_prompt(findings), MAX_SUMMARY_TOKENS).strip()
        return text if text and grounded(text, findings) else template_summary(findings)
