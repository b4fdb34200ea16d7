"""Slot and prefix bookkeeping of the batched decoder, and its completion-end rules (no model needed)."""

from __future__ import annotations

import pytest

from agent.planner.kv_slots import Placement, SlotTable, common_prefix
from agent.planner.line_stop import capped_max_tokens, check_stop


def test_common_prefix() -> None:
    assert common_prefix([1, 2, 3], [1, 2, 4]) == 2
    assert common_prefix([], [1]) == 0
    assert common_prefix([1, 2], [1, 2, 3]) == 2
    assert common_prefix([5], [6]) == 0


def test_next_step_of_a_conversation_decodes_in_its_cached_sequence() -> None:
    t = SlotTable(n_work=2, n_cache=2, min_copy=2)
    first = t.place([1, 2, 3, 4])
    assert first is not None and first.seq == 0 and first.n_common == 0 and first.source is None
    t.extend(first.seq, [1, 2, 3, 4, 9])  # prompt and one generated token evaluated
    t.release(first.seq)
    nxt = t.place([1, 2, 3, 4, 9, 7, 7])  # the prompt grew by new lines
    assert nxt == Placement(0, 5)  # in place, nothing copied or spilled
    assert t.seqs[0].tokens == [1, 2, 3, 4, 9] and t.seqs[0].busy


def test_same_prompt_again_reevaluates_only_its_last_token() -> None:
    t = SlotTable(n_work=1)
    p = t.place([1, 2, 3])
    assert p is not None
    t.extend(p.seq, [1, 2, 3, 8])
    t.release(p.seq)
    assert t.place([1, 2, 3]) == Placement(0, 2)


def test_running_ids_stay_consecutive_and_prefixes_are_copied_from_any_sequence() -> None:
    t = SlotTable(n_work=3, n_cache=1, min_copy=3)
    a = t.place([1, 2, 3, 4, 5])
    assert a is not None and a.seq == 0
    t.extend(0, [1, 2, 3, 4, 5])  # still running
    b = t.place([1, 2, 3, 8])
    assert b == Placement(1, 3, source=0)  # the lowest free id, the prefix copied from the running sequence
    assert t.seqs[0].tokens == [1, 2, 3, 4, 5] and t.seqs[1].tokens == [1, 2, 3]
    c = t.place([1, 2, 9])  # a 2-token prefix is shorter than min_copy: evaluated again
    assert c == Placement(2, 0)
    assert t.place([5]) is None  # all working sequences busy


def test_a_taken_id_spills_its_prefix_to_the_least_recently_used_cache_sequence() -> None:
    t = SlotTable(n_work=2, n_cache=2, min_copy=2)
    a = t.place([1, 1, 1, 1])
    assert a is not None
    t.extend(0, [1, 1, 1, 1])
    t.release(0)
    other = t.place([2, 2, 2])  # takes id 0, which held conversation A's prefix
    assert other == Placement(0, 0, spill=(0, 2))
    assert t.seqs[2].tokens == [1, 1, 1, 1] and t.seqs[0].tokens == []
    t.extend(0, [2, 2, 2])
    back = t.place([1, 1, 1, 1, 5])  # A's next step: id 1, its prefix copied back from the cache
    assert back == Placement(1, 4, source=2)
    assert t.active() == 2


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="n_work"):
        SlotTable(n_work=0)


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
