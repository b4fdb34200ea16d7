"""Planner backends behind one API (`base.Planner`); `load_planner` builds and caches them per process.

kinds: "llama" (llama.cpp, the default), "transformers" (same prompt format, for parity), "keyword"
(the keyword-router baseline). adapter: "default" (the shipped `finetune/artifacts` adapter), a path to a
GGUF LoRA adapter, or None / "none" (the base model with a few-shot prefix).

The llama backend serves the adapter merged into a copy of the base GGUF (built once, cached next to the
base model or in `KEEL_MODEL_CACHE`): ~25% faster per token than applying the LoRA at run time.
`KEEL_PLANNER_MERGE=0` serves base + adapter unmerged; `KEEL_PLANNER_THREADS` sets llama.cpp threads
(default 2; on an oversubscribed machine 1 is faster). `batching` (default: the `planner_batching` setting)
decodes concurrent calls together (`batch_decoder`); planners with and without it are cached apart.
"""

from __future__ import annotations

import threading
from pathlib import Path

from agent.planner.base import PlannedCall, Planner, Step

__all__ = ["Planner", "PlannedCall", "Step", "load_planner", "default_adapter", "KINDS"]

KINDS = ("llama", "transformers", "keyword")
ARTIFACT = Path(__file__).resolve().parents[2] / "finetune" / "artifacts" / "keel-planner-lora.gguf"

_cache: dict[tuple[str, str, bool], Planner] = {}
_lock = threading.Lock()


def default_adapter() -> Path:
    return ARTIFACT


def resolve_adapter(adapter: str | Path | None) -> Path | None:
    """The adapter file for an `adapter` argument; raise FileNotFoundError naming the path if it is missing."""
    if adapter is None or str(adapter).lower() in ("none", ""):
        return None
    path = ARTIFACT if str(adapter) == "default" else Path(adapter)
    if not path.exists():
        raise FileNotFoundError(f"planner adapter not found: {path} (produce it with `keel finetune slm`)")
    return path


def load_planner(kind: str = "llama", adapter: str | None = "default", batching: bool | None = None) -> Planner:
    """A planner of `kind` with `adapter`, loaded once per process and shared (thread-safe); `batching` (llama
    only) None means the `planner_batching` setting."""
    if kind == "hf":
        kind = "transformers"
    if kind not in KINDS:
        raise ValueError(f"unknown planner kind {kind!r}; allowed: {', '.join(KINDS)}")
    path = None if kind == "keyword" else resolve_adapter(adapter)
    if kind == "llama" and batching is None:
        from config.settings import get_settings

        batching = get_settings().planner_batching
    key = (kind, str(path), bool(batching) and kind == "llama")
    with _lock:
        if key not in _cache:
            _cache[key] = _build(kind, path, key[2])
        return _cache[key]


def _build(kind: str, adapter: Path | None, batching: bool = False) -> Planner:
    if kind == "keyword":
        from agent.planner.keyword import KeywordPlanner

        return KeywordPlanner()
    from finetune.slm.base_model import base_gguf

    name = "keel" if adapter else "base"
    if kind == "transformers":
        from agent.planner.hf import HFPlanner

        return HFPlanner(adapter, name=name, few_shot=adapter is None)
    from agent.planner.llama import LlamaPlanner
    from agent.planner.prompt_lookup import DraftSettings
    from config.settings import get_settings

    settings = get_settings()
    threads, extra_bufts = settings.planner_threads, settings.llama_extra_bufts
    slots = settings.planner_slots
    drafts = DraftSettings(max_tokens=settings.planner_draft_tokens)
    if adapter is not None and settings.planner_merge:
        from agent.planner.merge import merged_model

        return LlamaPlanner(merged_model(base_gguf(), adapter), None, name=name, n_threads=threads,
                            extra_bufts=extra_bufts, batching=batching, slots=slots, drafts=drafts)
    return LlamaPlanner(base_gguf(), adapter, name=name, few_shot=adapter is None, n_threads=threads,
                        extra_bufts=extra_bufts, batching=batching, slots=slots, drafts=drafts)
