"""A bounded queue in front of the model: at most `capacity` turns in the service at once.

A turn that finds it full is refused at once with a Retry-After estimate (the recent mean turn time),
so callers back off instead of piling onto a CPU-bound planner.
"""

from __future__ import annotations

import math
import threading
import time


class Busy(RuntimeError):
    """The queue is full; try again after `retry_after` seconds."""

    def __init__(self, capacity: int, retry_after: int) -> None:
        super().__init__(f"the model queue is full ({capacity} turns in progress); retry after {retry_after} s")
        self.capacity = capacity
        self.retry_after = retry_after


class Admission:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        self._active = 0
        self._mean_s = 1.0

    @property
    def active(self) -> int:
        return self._active

    def enter(self) -> float:
        """Take a place or raise Busy; returns the start time to pass to `leave`."""
        with self._lock:
            if self._active >= self.capacity:
                raise Busy(self.capacity, max(1, math.ceil(self._mean_s)))
            self._active += 1
        return time.perf_counter()

    def leave(self, started: float) -> None:
        with self._lock:
            self._active -= 1
            self._mean_s = 0.8 * self._mean_s + 0.2 * (time.perf_counter() - started)
