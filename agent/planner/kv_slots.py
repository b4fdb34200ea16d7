"""Sequence slots of a batched llama.cpp context: which sequence a new completion decodes in, and what it reuses.

Pure bookkeeping (no llama.cpp here), so it is testable without the model. The context has one KV stream per
sequence id. Ids [0, n_work) are working sequences, where completions decode; ids [n_work, n_work + n_cache)
only hold cached prefixes. Each sequence remembers the tokens whose keys and values it holds (positions
0..len-1); a busy one belongs to a running completion.

- A completion takes the LOWEST free working id, so the running sequences stay consecutive: llama.cpp splits
  a batch over separate KV streams into one micro-batch per run of consecutive ids (measured on 2 cores: one
  step of 8 generating sequences took 49 ms on ids 0-7 and 118 ms on ids 0,2,..,14; one sequence 15 ms).
- It reuses the longest common token prefix found in any sequence: in place when that is the id it takes
  (the next step of a conversation that got its id back), else by copying the source's stream into it and
  cutting it back, when the prefix is at least `min_copy` tokens (a copy between streams moves the whole
  stream, a few MB). At least the prompt's last token is always evaluated again (its logits start decoding).
- Before an idle working id that holds a prefix of at least `min_copy` tokens is overwritten by another
  completion, its stream is spilled to the least recently used cache id, so the conversation's next step can
  still find it.
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
    last_used: int = 0


@dataclass(frozen=True)
class Placement:
    """Where a completion decodes, as steps for the KV cache, in this order:
    1. `spill` (from, to): copy stream `from` to cache id `to` (its old content dropped);
    2. `source`: copy stream `source` into `seq` (else `seq` keeps its own content);
    3. cut `seq` back to positions [0, n_common)."""

    seq: int
    n_common: int
    source: int | None = None
    spill: tuple[int, int] | None = None


class SlotTable:
    """`n_work` working sequences (completions decode there, at most that many at once) and `n_cache` cache ones."""

    def __init__(self, n_work: int, n_cache: int = 0, min_copy: int = 1) -> None:
        if n_work < 1 or n_cache < 0:
            raise ValueError(f"need n_work >= 1 and n_cache >= 0; got {n_work}, {n_cache}")
        self.n_work = n_work
        self.seqs = [SeqState(i) for i in range(n_work + n_cache)]
        self.min_copy = max(1, min_copy)  # shorter common prefixes are evaluated again rather than copied
        self._clock = 0

    @property
    def n_seq(self) -> int:
        return len(self.seqs)

    def active(self) -> int:
        return sum(1 for s in self.seqs if s.busy)

    def best_source(self, prompt: Sequence[int]) -> tuple[SeqState | None, int]:
        """The sequence sharing the longest prefix with `prompt` (ties: the most recently used) and its length."""
        best: SeqState | None = None
        best_n = 0
        for s in self.seqs:
            n = common_prefix(s.tokens, prompt)
            if n > best_n or (n == best_n and n > 0 and best is not None and s.last_used > best.last_used):
                best, best_n = s, n
        return best, best_n

    def _spill_target(self, exclude: SeqState | None) -> SeqState | None:
        cache = [s for s in self.seqs[self.n_work:] if s is not exclude]
        return min(cache, key=lambda s: (len(s.tokens) > 0, s.last_used)) if cache else None

    def place(self, prompt: Sequence[int]) -> Placement | None:
        """The working sequence for a completion of `prompt`, marked busy; None when all are busy."""
        free = [s for s in self.seqs[: self.n_work] if not s.busy]
        if not free or not prompt:
            return None
        target = free[0]  # the lowest free id keeps the running ids consecutive
        source, n_raw = self.best_source(prompt)
        kept = common_prefix(target.tokens, prompt)
        own_n = min(kept, len(prompt) - 1)  # reusable in place
        copy_n = min(n_raw, len(prompt) - 1)  # reusable by copying the best source
        copy_from = source if source is not None and source is not target and copy_n - own_n >= self.min_copy \
            else None
        spill: tuple[int, int] | None = None
        if len(target.tokens) >= self.min_copy and kept < min(len(target.tokens), len(prompt)):
            dest = self._spill_target(exclude=copy_from)  # the taken id's prefix would be lost: keep it cached
            if dest is not None:
                spill = (target.seq, dest.seq)
                dest.tokens, dest.last_used = list(target.tokens), target.last_used
        n_common = copy_n if copy_from is not None else own_n
        self._clock += 1
        target.tokens = list(prompt[:n_common])
        target.busy, target.last_used = True, self._clock
        return Placement(target.seq, n_common, copy_from.seq if copy_from is not None else None, spill)

    def extend(self, seq: int, tokens: Sequence[int]) -> None:
        """`tokens` were evaluated in `seq` (appended at its next positions)."""
        self.seqs[seq].tokens.extend(tokens)

    def release(self, seq: int) -> None:
        """The completion in `seq` finished: its tokens stay as a cached prefix until the id is taken again."""
        s = self.seqs[seq]
        self._clock += 1
        s.busy, s.last_used = False, self._clock

    def drop(self, seq: int) -> None:
        """Forget `seq` entirely (its cells were cleared, e.g. after a failed decode)."""
        s = self.seqs[seq]
        s.tokens, s.busy = [], False

    def clear(self) -> None:
        for s in self.seqs:
            self.drop(s.seq)
