"""Group commit: concurrent callers hand their work to one leader, who commits all of it in one go.

A caller queues its item. If no commit is under way it becomes the leader at once: it takes everything
queued (just its own item when it is alone) and runs the commit function. Callers that arrive while a
commit runs wait. The commit function may call `more()` while it builds its transaction, to take the
items queued since (for a database: while it waited for the write lock and wrote the rows); those
arriving after its last `more()` (during the COMMIT and its fsync) wait, and when the commit returns one
of them leads the next with everything queued by then. There is no timer: a lone caller commits at once.
Every caller returns only after the commit holding its item has returned, with that item's result or
exception (the leader-follower scheme of LevelDB's write queue).

The commit function returns one entry per item taken (the first batch, then each `more()`, in order): a
result, or an Exception for an item that failed on its own (the others still commit). If it raises,
every item taken gets that exception, as nothing of the batch was committed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

More = Callable[[], Sequence[T]]
"""Take the items queued since the last take (empty when none, or when the batch is full)."""


@dataclass(eq=False)
class _Ticket(Generic[T, R]):
    item: T
    done: bool = False
    result: R | None = None
    error: BaseException | None = None


class GroupCommit(Generic[T, R]):
    """Batch concurrent `submit(item)` calls into `commit(first, more)` calls; thread-safe."""

    def __init__(self, commit: Callable[[Sequence[T], More[T]], Sequence[R | Exception]],
                 max_batch: int = 1024) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch: got {max_batch}; allowed: >= 1")
        self._commit = commit
        self._max_batch = max_batch
        self._cond = threading.Condition(threading.Lock())
        self._queue: list[_Ticket[T, R]] = []
        self._busy = False
        self.commits = 0  # commits run (or failed), for statistics
        self.items = 0  # items in them

    @property
    def pending(self) -> int:
        """Items queued and not yet taken by a leader."""
        with self._cond:
            return len(self._queue)

    def submit(self, item: T) -> R:
        """Commit `item` (with whoever else is waiting); return its result once its commit has returned."""
        ticket: _Ticket[T, R] = _Ticket(item)
        with self._cond:
            self._queue.append(ticket)
        while True:
            with self._cond:
                while self._busy and not ticket.done:
                    self._cond.wait()
                if ticket.done:
                    break
                self._busy = True  # nobody is committing: lead the next commit
            self._lead()  # takes this ticket unless max_batch earlier ones were queued: then lead again
        if ticket.error is not None:
            raise ticket.error
        return ticket.result  # type: ignore[return-value]

    def _lead(self) -> None:
        taken: list[_Ticket[T, R]] = []

        def more() -> list[T]:
            with self._cond:
                room = self._max_batch - len(taken)
                new, self._queue = self._queue[:room], self._queue[room:]
            taken.extend(new)
            return [t.item for t in new]

        outcome: Sequence[R | Exception] | BaseException
        try:
            outcome = self._commit(more(), more)
            if len(outcome) != len(taken):
                outcome = RuntimeError(f"group commit: {len(outcome)} results for {len(taken)} items")
        except BaseException as e:  # nothing of the batch was committed: every caller gets the error
            outcome = e
        with self._cond:
            for i, t in enumerate(taken):
                r = outcome if isinstance(outcome, BaseException) else outcome[i]
                if isinstance(r, BaseException):
                    t.error = r
                else:
                    t.result = r
                t.done = True
            self.commits += 1
            self.items += len(taken)
            self._busy = False
            self._cond.notify_all()
