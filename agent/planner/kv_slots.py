"""Sequence slots of a batched llama.cpp context: which sequence a new completion decodes in, and what it reuses.

Pure bookkeeping (no llama.cpp here), so it is testable without the model. A context holds `n_seq` sequence
ids over one unified KV cache. Each sequence remembers the tokens whose keys and values it holds (positions
0..len-1). A busy sequence belongs to a completion being decoded; an idle one is a cached prefix, kept until
it is needed (least recently used first).

A new completion reuses the longest common token prefix found in any sequence, busy or idle:
- when an idle sequence's tokens are all a prefix of the new prompt (the next step of a conversation), or the
  new prompt is all a prefix of them (the same prompt again), the completion decodes in that sequence and
  only the new suffix is evaluated;
- otherwise the completion takes a free (or the least recently used idle) sequence and, when the common
  prefix is at least `min_copy` tokens (a copy between KV streams moves the whole stream), the source is
  copied into it and cut back to the common prefix.
At least the prompt's last token is always evaluated again (its logits start the completion).

Cells are budgeted conservatively: a sequence counts all of its tokens (shared cells are counted once per
sequence that holds them) and a busy one its whole reservation (prompt plus `max_tokens`), so llama.cpp never
runs out of cells mid-completion. Idle sequences are evicted, least recently used first, to make room.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """The length of the longest common prefix of two token sequences."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


@dataclass
class SeqState:
    """One sequence id: the tokens whose KV it holds, whether a completion owns it, and when it was last used."""

    seq: int
    tokens: list[int] = field(default_factory=list)
    busy: bool = False
    reserved: int = 0  # cells a busy sequence may grow to (prompt + max_tokens)
    last_used: int = 0

    def cells(self) -> int:
        return max(self.reserved, len(self.tokens)) if self.busy else len(self.tokens)


@dataclass(frozen=True)
class Placement:
    """Where a completion decodes: `seq`, after dropping `evict`'s cached tokens and, when `source` is set,
    copying positions [0, n_common) from `source` into `seq`; `seq` keeps positions [0, n_common)."""

    seq: int
    n_common: int
    source: int | None = None
    evict: tuple[int, ...] = ()


class PromptTooLong(ValueError):
    """A prompt plus its reservation does not fit the cell budget even with nothing else cached."""


class SlotTable:
    """The sequences of one context: `max_active` may decode at once; the rest hold cached prefixes."""

    def __init__(self, n_seq: int, max_active: int, cell_budget: int, min_copy: int = 1) -> None:
        if not 1 <= max_active <= n_seq:
            raise ValueError(f"max_active must be in 1..n_seq ({n_seq}); got {max_active}")
        if cell_budget < 1:
            raise ValueError(f"cell_budget must be positive; got {cell_budget}")
        self.seqs = [SeqState(i) for i in range(n_seq)]
        self.max_active = max_active
        self.cell_budget = cell_budget
        self.min_copy = max(1, min_copy)  # shorter common prefixes are evaluated again rather than copied
        self._clock = 0

    # ------------------------------------------------------------------ queries
    def active(self) -> int:
        return sum(1 for s in self.seqs if s.busy)

    def cells(self) -> int:
        """Cells counted against the budget (an upper bound of what the cache holds)."""
        return sum(s.cells() for s in self.seqs)

    def best_source(self, prompt: Sequence[int]) -> tuple[SeqState | None, int]:
        """The sequence sharing the longest prefix with `prompt` (ties: the most recently used) and its length."""
        best: SeqState | None = None
        best_n = 0
        for s in self.seqs:
            n = common_prefix(s.tokens, prompt)
            if n > best_n or (n == best_n and n > 0 and best is not None and s.last_used > best.last_used):
                best, best_n = s, n
        return best, best_n

    # ------------------------------------------------------------------ changes
    def place(self, prompt: Sequence[int], reserve: int) -> Placement | None:
        """A sequence for a completion of `prompt` that may add `reserve` tokens, marked busy; None when it has
        to wait (all sequences busy, too many active, or the cells are held by running completions).

        Raises PromptTooLong if it could never fit."""
        need = len(prompt) + reserve
        if need > self.cell_budget:
            raise PromptTooLong(f"prompt of {len(prompt)} tokens plus {reserve} to generate exceeds the "
                                f"{self.cell_budget} KV cells of the batched context")
        if not prompt or self.active() >= self.max_active:
            return None
        source, n_raw = self.best_source(prompt)
        n_common = min(n_raw, len(prompt) - 1)
        in_place = (source is not None and not source.busy and n_raw > 0
                    and (n_raw == len(source.tokens) or n_raw == len(prompt)))
        if in_place and source is not None:
            target = source
            copy_from: SeqState | None = None
        else:
            idle = [s for s in self.seqs if not s.busy and s is not source]
            if not idle:
                return None
            target = min(idle, key=lambda s: (len(s.tokens) > 0, s.last_used))  # empty first, then LRU
            copy_from = source if n_common >= self.min_copy else None
        # the target's own cached tokens go (kept: [0, n_common) when in place)
        evict: list[int] = []
        keep = {target.seq} | ({copy_from.seq} if copy_from is not None else set())
        used = self.cells() - target.cells() + need
        for s in sorted((s for s in self.seqs if not s.busy and s.tokens and s.seq not in keep),
                        key=lambda s: s.last_used):
            if used <= self.cell_budget:
                break
            used -= s.cells()
            evict.append(s.seq)
        if used > self.cell_budget:
            return None  # running completions hold the cells: wait for one to finish
        for e in evict:
            self.seqs[e].tokens = []
        self._clock += 1
        target.tokens = list(prompt[:n_common]) if copy_from is not None or in_place else []
        if copy_from is None and not in_place:
            n_common = 0
        target.busy, target.reserved, target.last_used = True, need, self._clock
        return Placement(target.seq, n_common, copy_from.seq if copy_from is not None else None, tuple(evict))

    def extend(self, seq: int, tokens: Sequence[int]) -> None:
        """`tokens` were evaluated in `seq` (appended at its next positions)."""
        self.seqs[seq].tokens.extend(tokens)

    def release(self, seq: int) -> None:
        """The completion in `seq` finished: its tokens stay cached as an idle prefix."""
        s = self.seqs[seq]
        self._clock += 1
        s.busy, s.reserved, s.last_used = False, 0, self._clock

    def drop(self, seq: int) -> None:
        """Forget `seq` entirely (its cells were cleared, e.g. after a failed decode)."""
        s = self.seqs[seq]
        s.tokens, s.busy, s.reserved = [], False, 0

    def clear(self) -> None:
        for s in self.seqs:
            self.drop(s.seq)
