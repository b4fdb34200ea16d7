"""`keel bench agent --conversations 1,5,20`: level parsing, the sweep's rows and figures, the summary rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.bench_agent import SweepRow, parse_levels, run_sweep
from agent.graph.nodes import wants_model_summary
from agent.planner.keyword import KeywordPlanner
from cli import bench_cmd
from config.settings import get_settings


def test_levels_parse_and_bad_items_are_named() -> None:
    assert parse_levels("20") == [20]
    assert parse_levels("1, 5,20") == [1, 5, 20]
    for bad, named in (("1,x", "'x'"), ("0", "'0'"), ("201", "'201'"), (",", "at least one")):
        with pytest.raises(ValueError, match=named):
            parse_levels(bad)


class CountingPlanner(KeywordPlanner):
    """The keyword planner with a model thread's counters (each plan "generates" 10 tokens in 2 steps)."""

    def __init__(self) -> None:
        super().__init__()
        self.stats = {"generated_tokens": 0.0, "steps": 0.0, "decode_s": 0.0, "call_s": 0.0,
                      "prompt_tokens": 0.0, "reused_tokens": 0.0}

    def plan(self, request, history=(), context=None):  # type: ignore[no-untyped-def]
        self.stats["generated_tokens"] += 10
        self.stats["steps"] += 2
        self.stats["decode_s"] += 0.001
        return super().plan(request, history, context)

    def decode_stats(self) -> dict[str, float]:
        return dict(self.stats)


def test_sweep_runs_every_level_on_every_path_with_counter_deltas(tmp_path: Path) -> None:
    settings = get_settings().model_copy(update={"home": tmp_path})
    counting = CountingPlanner()
    seen: list[SweepRow] = []
    rows = run_sweep([1, 2], {"plain": KeywordPlanner(), "counting": counting}, settings=settings, on_row=seen.append)
    assert [(r.mode, r.conversations) for r in rows] == [("plain", 1), ("counting", 1), ("plain", 2), ("counting", 2)]
    assert seen == rows
    for r in rows:
        f = r.figures()
        assert f["errors"] == 0 and f["audit_valid"] == 1 and f["conversations"] == r.conversations
    plain, counted = rows[2].figures(), rows[3].figures()
    assert plain["tokens_per_s"] != plain["tokens_per_s"]  # NaN: no model thread to read
    assert counted["generated_tokens"] >= 10 * 2  # at least one plan per conversation of this run
    assert counted["generated_tokens"] < counting.stats["generated_tokens"]  # not the planner's lifetime
    assert counted["tokens_per_step"] == 5.0  # a delta over this run only, not the planner's lifetime
    assert counted["tokens_per_s"] == pytest.approx(counted["generated_tokens"] / counted["wall_s"])


def test_cli_accepts_a_comma_list_and_the_old_single_number(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEL_HOME", str(tmp_path))
    runner = CliRunner()
    out = tmp_path / "b.json"
    r = runner.invoke(bench_cmd.app, ["agent", "--planner", "keyword", "--conversations", "1,2", "--json", str(out)])
    assert r.exit_code == 0, r.output
    figures = json.loads(out.read_text())["figures"]
    assert figures["keyword_c1_errors"] == 0 and figures["keyword_c2_conversations"] == 2
    r = runner.invoke(bench_cmd.app, ["agent", "--planner", "keyword", "--conversations", "2", "--json", str(out)])
    assert r.exit_code == 0, r.output
    figures = json.loads(out.read_text())["figures"]
    assert figures["conversations"] == 2 and figures["audit_valid"] == 1  # the keys of the single-level form
    r = runner.invoke(bench_cmd.app, ["agent", "--planner", "keyword", "--conversations", "1,zero"])
    assert r.exit_code != 0 and "'zero'" in r.output


def test_model_summary_only_when_two_or_more_tools_ran() -> None:
    assert not wants_model_summary([])
    assert not wants_model_summary([{"tool": "query_metrics"}])
    assert not wants_model_summary([{"tool": "query_metrics"}, {"tool": "query_metrics"}])
    assert wants_model_summary([{"tool": "root_cause_analysis"}, {"tool": "search_logs"}])
