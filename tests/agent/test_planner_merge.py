"""Merging the adapter into the base GGUF gives the same calls as applying it at run time."""

from __future__ import annotations

import pytest

from agent.planner import default_adapter

pytestmark = pytest.mark.slow


def test_merged_model_matches_runtime_adapter() -> None:
    pytest.importorskip("llama_cpp")
    if not default_adapter().exists():
        pytest.skip(f"shipped adapter not present yet: {default_adapter()}")
    from agent.planner.llama import LlamaPlanner
    from agent.planner.merge import merged_model
    from finetune.slm.base_model import base_gguf

    merged = merged_model(base_gguf(), default_adapter())  # built once per machine, shared with serving
    mtime = merged.stat().st_mtime
    assert merged_model(base_gguf(), default_adapter()) == merged and merged.stat().st_mtime == mtime
    a = LlamaPlanner(merged, None)
    b = LlamaPlanner(base_gguf(), default_adapter())
    for request in ("restart the cart service", "p99 of checkout over the last 2 hours", "who calls payment?"):
        ca, cb = a.plan(request), b.plan(request)
        assert (ca.tool, ca.args) == (cb.tool, cb.args), (ca.raw, cb.raw)
