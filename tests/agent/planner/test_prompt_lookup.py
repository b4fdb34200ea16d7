"""Prompt-lookup drafts: which tokens are drafted and how many greedy decoding confirms."""

from __future__ import annotations

import pytest

from agent.planner.prompt_lookup import DraftSettings, accepted, draft

ON = DraftSettings(max_tokens=4, max_ngram=3, min_ngram=2)
TWO = DraftSettings(max_tokens=2, max_ngram=3, min_ngram=2)


def test_the_tokens_after_the_latest_earlier_occurrence_of_the_last_ngram_are_drafted() -> None:
    #          0  1  2  3  4  5  6  7  8  9 10 11 12
    context = [5, 1, 2, 3, 9, 9, 1, 2, 3, 7, 8, 4, 1, 2, 3]
    # the last 3 tokens (1 2 3) occurred at 1 and 6; the latest (6) is followed by 7 8 4 1
    assert draft(context, ON) == [7, 8, 4, 1]
    assert draft(context, TWO) == [7, 8]


def test_a_shorter_ngram_is_tried_when_the_longest_never_occurred() -> None:
    context = [4, 2, 3, 6, 6, 1, 2, 3]  # (1 2 3) is new, (2 3) occurred at 1
    assert draft(context, ON) == [6, 6, 1, 2]
    assert draft(context, DraftSettings(max_tokens=4, max_ngram=3, min_ngram=3)) == []


def test_nothing_is_drafted_when_off_or_without_a_match() -> None:
    assert draft([1, 2, 3, 1, 2, 3], DraftSettings(max_tokens=0)) == []
    assert draft([1, 2, 3, 4, 5], ON) == []
    assert draft([1], ON) == []
    assert draft([], ON) == []


def test_a_draft_is_whole_or_nothing() -> None:
    assert draft([7, 7, 7, 7], ON) == []  # (7 7 7) at 0 is followed by only one token
    assert draft([7, 7, 7, 7, 7, 7], TWO) == [7, 7]


@pytest.mark.parametrize(("drafted", "chosen", "n"), [
    ([7, 8, 4], [7, 8, 4, 2], 3),  # all confirmed (the 4th choice is the token after the draft)
    ([7, 8, 4], [7, 9, 4, 2], 1),  # the second differs: it and everything after it are dropped
    ([7, 8, 4], [6, 8, 4, 2], 0),
    ([], [3], 0),
])
def test_accepted_counts_the_leading_drafted_tokens_greedy_agrees_with(drafted: list[int], chosen: list[int],
                                                                       n: int) -> None:
    assert accepted(drafted, chosen) == n


def test_bad_settings_name_the_field() -> None:
    with pytest.raises(ValueError, match="max_tokens"):
        DraftSettings(max_tokens=-1)
    with pytest.raises(ValueError, match="min_ngram"):
        DraftSettings(max_tokens=4, max_ngram=2, min_ngram=3)
    with pytest.raises(ValueError, match="after"):
        DraftSettings(max_tokens=4, after=-1)
    with pytest.raises(ValueError, match="max_seqs"):
        DraftSettings(max_tokens=4, max_seqs=0)
