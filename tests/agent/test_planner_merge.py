"""Merging the adapter into the base GGUF gives the same calls as applying it at run time."""

from __future__ import annotations

import pytest

from agent.planner import default_adapter
from tests.ci import unavailable

pytestmark = [pytest.mark.slow, pytest.mark.native_model]


def test_merged_model_matches_runtime_adapter() -> None:
    try:
        import llama_cpp  # noqa: F401
    except ImportError as e:
        unavailable(f"llama-cpp-python is not installed: {e}")
    if not default_adapter().exists():
        unavailable(f"shipped adapter not present: {default_adapter()}")
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
