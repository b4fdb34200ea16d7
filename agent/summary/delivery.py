"""Deliver an incident summary to a Slack incoming webhook, with retries and exponential backoff.

`slack_sdk.webhook.WebhookClient` sends; tenacity retries connection errors, HTTP 429 (honouring
Retry-After) and 5xx, and gives up at once on other 4xx (a wrong URL does not get better). The outcome,
with the number of attempts, is returned as a `Delivery`; the webhook URL itself (a secret) is never
recorded, only its host.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from slack_sdk.webhook import WebhookClient
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

log = logging.getLogger(__name__)


@dataclass
class Delivery:
    status: str  # delivered | failed
    attempts: int
    http_status: int | None
    error: str | None
    host: str
    elapsed_ms: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Retryable(Exception):
    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status, self.retry_after = status, retry_after


def check_url(url: str) -> str:
    """The URL if it is an http(s) URL with a host; else ValueError naming the setting."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("slack_webhook_url must be an http(s) URL such as https://hooks.slack.com/services/...; "
                         f"got a {parts.scheme or 'schemeless'} URL")
    return url


def _wait(base_s: float, max_s: float) -> Callable[[RetryCallState], float]:
    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retryable) and exc.retry_after is not None:
            return min(max(exc.retry_after, 0.0), max_s)
        return min(base_s * 2 ** (state.attempt_number - 1), max_s)

    return wait


def deliver(url: str, message: dict[str, Any], *, attempts: int = 4, backoff_s: float = 0.5,
            max_backoff_s: float = 8.0, timeout_s: int = 10, sleep: Callable[[float], None] = time.sleep) -> Delivery:
    """POST `message` ({"text", "blocks"}) to the webhook; retry what is worth retrying. Never raises."""
    host = urlsplit(url).hostname or "?"
    t0 = time.perf_counter()
    try:
        check_url(url)
    except ValueError as e:
        return Delivery("failed", 0, None, str(e), host, 0.0)
    client = WebhookClient(url, timeout=timeout_s, retry_handlers=[])
    count = 0
    last_status: int | None = None

    def once() -> int:
        nonlocal count, last_status
        count += 1
        try:
            resp = client.send_dict(message)
        except Exception as e:  # connection refused / reset / timeout: worth another try
            raise _Retryable(f"{type(e).__name__}: {e}") from e
        last_status = resp.status_code
        if resp.status_code == 200:
            return resp.status_code
        if resp.status_code == 429 or resp.status_code >= 500:
            after = resp.headers.get("retry-after") or resp.headers.get("Retry-After")
            raise _Retryable(f"HTTP {resp.status_code}: {str(resp.body)[:200]}", resp.status_code,
                             float(after) if after and str(after).replace(".", "", 1).isdigit() else None)
        raise ValueError(f"HTTP {resp.status_code}: {str(resp.body)[:200]}")

    try:
        for attempt in Retrying(stop=stop_after_attempt(max(1, attempts)), wait=_wait(backoff_s, max_backoff_s),
                                retry=retry_if_exception_type(_Retryable), sleep=sleep, reraise=True):
            with attempt:
                status = once()
        return Delivery("delivered", count, status, None, host, (time.perf_counter() - t0) * 1000)
    except (_Retryable, ValueError) as e:
        log.warning("summary delivery to %s failed after %d attempt(s): %s", host, count, e)
        return Delivery("failed", count, last_status, str(e), host, (time.perf_counter() - t0) * 1000)
