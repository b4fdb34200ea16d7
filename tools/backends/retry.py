"""Retries with exponential backoff inside one time budget, for calls to real backends.

A backend call gets `timeout_s` in total (default 5 s): each attempt is given what is left of the
budget as its own timeout, failed attempts back off 0.1 s, 0.2 s, 0.4 s ... (capped at 1 s), and no
attempt starts once the budget is spent. A down server therefore fails in a few hundred milliseconds
and a hanging one within the budget, never later.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential
from tenacity.stop import stop_base

from tools.backends.base import BackendError

T = TypeVar("T")

MIN_ATTEMPT_S = 0.05


class _OutOfTime(Exception):
    """Raised instead of starting an attempt with no budget left."""


def with_budget(
    fn: Callable[[float], T],
    *,
    timeout_s: float,
    attempts: int = 3,
    retryable: Callable[[BaseException], bool] = lambda e: True,
    describe: Callable[[BaseException], str] = lambda e: str(e) or type(e).__name__,
    label: str = "backend",
) -> T:
    """Call `fn(remaining_seconds)` until it succeeds, retrying retryable errors within `timeout_s`.

    Raises BackendError("<label>: <what went wrong>") when every attempt failed or the budget ran out.
    """
    deadline = time.monotonic() + timeout_s
    started = time.monotonic()

    errors: list[BaseException] = []

    def attempt() -> T:
        left = deadline - time.monotonic()
        if left < MIN_ATTEMPT_S:
            raise _OutOfTime()
        try:
            return fn(left)
        except Exception as e:
            errors.append(e)
            raise

    class OutOfBudget(stop_base):
        def __call__(self, retry_state: RetryCallState) -> bool:
            return deadline - time.monotonic() < MIN_ATTEMPT_S

    def should_retry(e: BaseException) -> bool:
        return not isinstance(e, _OutOfTime | BackendError) and retryable(e)

    retrying = Retrying(
        stop=stop_after_attempt(attempts) | OutOfBudget(),
        wait=wait_exponential(multiplier=0.1, min=0.1, max=1.0),
        retry=retry_if_exception(should_retry),
        reraise=True,
        sleep=lambda s: time.sleep(max(0.0, min(s, deadline - time.monotonic()))),
    )
    try:
        return retrying(attempt)
    except BackendError:
        raise
    except Exception:
        pass
    last = errors[-1] if errors else None
    took = time.monotonic() - started
    n = retrying.statistics.get("attempt_number", 1)
    if last is None:
        raise BackendError(f"{label}: no answer within the {timeout_s:g} s budget ({n} attempts)", code="timeout")
    timed_out = isinstance(last, TimeoutError) or "timeout" in type(last).__name__.lower()
    raise BackendError(f"{label}: {describe(last)} (after {n} attempt{'s' * (n > 1)}, {took:.1f} s)",
                       code="timeout" if timed_out else "backend_unavailable")
