"""Slot and prefix bookkeeping of the batched decoder, and its completion-end rules (no model needed)."""

from __future__ import annotations

import pytest

from agent.planner.kv_slots import PromptTooLong, SlotTable, common_prefix
from agent.planner.line_stop import capped_max_tokens, check_stop


def test_common_prefix() -> None:
    assert common_prefix([1, 2, 3], [1, 2, 4]) == 2
    assert common_prefix([], [1]) == 0
    assert common_prefix([1, 2], [1, 2, 3]) == 2
    assert common_prefix([5], [6]) == 0


def test_next_step_of_a_conversation_decodes_in_its_cached_sequence() -> None:
    t = SlotTable(n_seq=4, max_active=2, cell_budget=1000)
    first = t.place([1, 2, 3, 4], reserve=8)
    assert first is not None and first.n_common == 0 and first.source is None
    t.extend(first.seq, [1, 2, 3, 4, 9])  # prompt and one generated token evaluated
    t.release(first.seq)
    nxt = t.place([1, 2, 3, 4, 9, 7, 7], reserve=8)  # the prompt grew by new lines
    assert nxt is not None and nxt.seq == first.seq and nxt.source is None and nxt.n_common == 5
    assert t.seqs[first.seq].tokens == [1, 2, 3, 4, 9] and t.seqs[first.seq].busy


def test_same_prompt_again_reevaluates_only_its_last_token() -> None:
    t = SlotTable(n_seq=2, max_active=1, cell_budget=100)
    p = t.place([1, 2, 3], 4)
    assert p is not None
    t.extend(p.seq, [1, 2, 3])
    t.release(p.seq)
    again = t.place([1, 2, 3], 4)
    assert again is not None and again.seq == p.seq and again.n_common == 2


def test_partial_match_copies_into_a_free_sequence_and_keeps_the_source() -> None:
    t = SlotTable(n_seq=3, max_active=2, cell_budget=1000)
    a = t.place([1, 2, 3, 4, 5], 4)
    assert a is not None
    t.extend(a.seq, [1, 2, 3, 4, 5])  # still busy (generating)
    b = t.place([1, 2, 3, 8], 4)
    assert b is not None and b.seq != a.seq and b.source == a.seq and b.n_common == 3
    assert t.seqs[a.seq].tokens == [1, 2, 3, 4, 5]
    assert t.seqs[b.seq].tokens == [1, 2, 3]


def test_waits_when_all_slots_are_busy_and_evicts_least_recently_used() -> None:
    t = SlotTable(n_seq=3, max_active=2, cell_budget=30)
    a, b = t.place([1] * 10, 2), t.place([2] * 10, 2)
    assert a is not None and b is not None
    assert t.place([3] * 5, 2) is None  # two active already
    for s, tok in ((a, 1), (b, 2)):
        t.extend(s.seq, [tok] * 10)
        t.release(s.seq)
    # 10 + 10 cached; 12 more needs 32 > 30 cells: the least recently used (a) is evicted, b stays
    c = t.place([3] * 10, 2)
    assert c is not None and c.evict == (a.seq,) and t.seqs[b.seq].tokens == [2] * 10
    assert t.cells() <= 30


def test_waits_while_running_completions_hold_the_cells() -> None:
    t = SlotTable(n_seq=4, max_active=4, cell_budget=20)
    assert t.place([1] * 10, 5) is not None
    assert t.place([2] * 10, 5) is None  # 15 reserved + 15 > 20: wait, nothing to evict


def test_a_prompt_that_can_never_fit_is_refused() -> None:
    t = SlotTable(n_seq=2, max_active=1, cell_budget=10)
    with pytest.raises(PromptTooLong, match="10 KV cells"):
        t.place([1] * 8, 4)
    with pytest.raises(ValueError, match="max_active"):
        SlotTable(n_seq=2, max_active=3, cell_budget=10)


def test_stop_rules_match_create_completion() -> None:
    assert check_stop(b" restart_service service=cart\n", 5, 64, (b"\n",), 0).text == b" restart_service service=cart"
    not_yet = check_stop(b" restart", 2, 64, (b"\n",), 0)
    assert not not_yet.done
    assert check_stop(b" a b c", 3, 3, (b"\n",), 0).done and check_stop(b" a b c", 3, 3, (b"\n",), 0).text == b" a b c"
    # the first byte of a 3-byte character: neither stop nor length is checked until it is complete
    partial = check_stop(b"x\n\xe2", 3, 3, (b"\n",), 0)
    assert not partial.done and partial.multibyte_fix == 1
    assert check_stop(b"x\n\xe2\x82\xac", 4, 3, (b"\n",), 0).text == b"x"


def test_max_tokens_capped_by_the_context() -> None:
    assert capped_max_tokens(100, 64, 1024) == 64
    assert capped_max_tokens(1000, 64, 1024) == 24
    assert capped_max_tokens(10, 0, 1024) == 1014
    with pytest.raises(ValueError, match="exceed context window of 1024"):
        capped_max_tokens(1024, 8, 1024)
