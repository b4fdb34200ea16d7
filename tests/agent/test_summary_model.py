"""The narrative with the fine-tuned summary model itself (slow: loads the GGUF model on the CPU).

Whatever the model writes, the narrative that reaches Slack names only numbers and services of the
findings; the test reports whether the model's own sentences were used. Skips, saying why, when the
model or its adapter is not available in this tree (fails instead under CI)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.summary.narrative import LazySummarizer, narrative
from tests.agent.test_summary import _memory_leak_findings, assert_grounded
from tests.ci import unavailable

pytestmark = [pytest.mark.slow, pytest.mark.native_model]


def test_model_narrative_is_grounded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from agent.planner import load_planner

    try:
        load_planner("llama", "default")
    except Exception as e:  # no adapter / base model in this tree
        unavailable(f"the fine-tuned planner is not available: {type(e).__name__}: {e}")
    f, _ = _memory_leak_findings(tmp_path)
    text, source = narrative(f, LazySummarizer("llama", "default"))
    assert text and source in ("model", "template")
    assert_grounded(text, f)
    with capsys.disabled():
        print(f"\nnarrative source: {source}: {text}")
