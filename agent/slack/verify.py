"""Slack request verification: v0 HMAC-SHA256 signature, a 5-minute timestamp window, replay rejection.

The signature check is slack_sdk's `SignatureVerifier` (HMAC-SHA256 of `v0:timestamp:body` with the
signing secret, compared in constant time). On top of it a request whose (timestamp, signature) pair was
already accepted within the window is a replay and is refused; pairs older than the window are forgotten
(the timestamp check already refuses them). The replay memory is per process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

from slack_sdk.signature import Clock, SignatureVerifier

WINDOW_S = 300
MAX_REMEMBERED = 100_000


class SlackAuthError(Exception):
    """A request that is not provably from Slack (the message says why; nothing runs)."""


class _Clock(Clock):
    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now()


class RequestVerifier:
    def __init__(self, signing_secret: str, now: Callable[[], float] = time.time, window_s: int = WINDOW_S) -> None:
        if not signing_secret.strip():
            raise ValueError("slack_signing_secret is empty: set KEEL_SLACK_SIGNING_SECRET")
        self._now = now
        self.window_s = window_s
        self._sdk = SignatureVerifier(signing_secret, clock=_Clock(now))
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def verify(self, body: bytes, headers: Mapping[str, str]) -> None:
        """Raise SlackAuthError unless the request is signed, fresh and not seen before."""
        h = {k.lower(): v for k, v in headers.items()}
        ts, sig = h.get("x-slack-request-timestamp"), h.get("x-slack-signature")
        if not ts or not sig:
            raise SlackAuthError("unsigned request: X-Slack-Request-Timestamp and X-Slack-Signature are required")
        if not ts.isdigit():
            raise SlackAuthError("X-Slack-Request-Timestamp must be an integer number of seconds")
        if abs(self._now() - int(ts)) > self.window_s:
            raise SlackAuthError(f"stale request: timestamp is more than {self.window_s // 60} minutes from now")
        if not sig.startswith("v0=") or not self._sdk.is_valid(body=body, timestamp=ts, signature=sig):
            raise SlackAuthError("bad signature: X-Slack-Signature does not match the request body")
        self._remember(ts, sig)

    def _remember(self, ts: str, sig: str) -> None:
        now = self._now()
        with self._lock:
            if (ts, sig) in self._seen:
                raise SlackAuthError("replayed request: this signature was already accepted")
            if len(self._seen) >= MAX_REMEMBERED or len(self._seen) % 256 == 0:
                cutoff = now - 2 * self.window_s
                self._seen = {k: v for k, v in self._seen.items() if v > cutoff}
            if len(self._seen) >= MAX_REMEMBERED:
                raise SlackAuthError("too many requests within the replay window")
            self._seen[(ts, sig)] = now

    def sign(self, body: bytes, timestamp: int) -> str:
        """The signature Slack would send (for building requests in tests and tools)."""
        return str(self._sdk.generate_signature(timestamp=str(timestamp), body=body))
