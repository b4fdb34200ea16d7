"""Check that a GGUF LoRA adapter in llama.cpp reproduces the torch (peft) model's greedy outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

PROMPTS = (
    "Request: show cpu for checkout over the last hour\nCall:",
    "Request: why is the frontend slow?\nCall:",
    "Request: scale cart to three replicas\nCall:",
    "Request: grep payment logs for timeout\nCall:",
)


def torch_greedy(tok: Any, model: Any, prompt: str, max_tokens: int = 24) -> str:
    import torch

    ids = tok(prompt, return_tensors="pt").input_ids
    newline = tok("\n", add_special_tokens=False).input_ids
    with torch.no_grad():
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_tokens,
                             do_sample=False, eos_token_id=[tok.eos_token_id, *newline], pad_token_id=tok.pad_token_id)
    return str(tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True)).split("\n")[0]


def llama_greedy(llm: Any, prompt: str, max_tokens: int = 24) -> str:
    out = llm.create_completion(prompt, max_tokens=max_tokens, temperature=0.0, top_k=1, stop=["\n"])
    return str(out["choices"][0]["text"])


def compare(adapter: Path, prompts: tuple[str, ...] = PROMPTS, torch_model: Any = None,
            tok: Any = None) -> list[tuple[str, str, str]]:
    """(prompt, torch output, llama.cpp output) for each prompt; `torch_model` defaults to base + adapter."""
    from finetune.slm.base_model import base_gguf, load_float_model

    if torch_model is None:
        from agent.planner.hf import attach_gguf_adapter

        tok, base = load_float_model()
        torch_model = attach_gguf_adapter(base, adapter)
    from finetune.slm.llama_runtime import load_llama

    llm = load_llama(base_gguf(), adapter, n_ctx=512, n_threads=2)
    return [(p, torch_greedy(tok, torch_model, p), llama_greedy(llm, p)) for p in prompts]
