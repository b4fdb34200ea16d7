"""Loki log backend for search_logs: LogQL over Loki's HTTP API (httpx).

Requests (Loki HTTP API reference):
- `GET /loki/api/v1/query_range` with `query` (LogQL), `start` and `end` (Unix epoch nanoseconds), `limit`
  and `direction=backward`: the newest matching lines.
- `GET /loki/api/v1/query` with `query=sum(count_over_time(<LogQL>[<window>s]))` and `time`: the total
  number of matches in the window (falls back to the number of lines returned if that query fails).
LogQL built: `{<service_label>="<svc>"}` (or `=~".+"` for every service), the level as a stream-label
matcher when `loki_level_label` is set, else `| json | level=~"(?i)..."` on JSON lines, and the query
as a case-insensitive line filter `|~ "(?i)<escaped text>"` (`|~ "<regex>"` for `/regex/` queries), the
same matching as the simulator and file backends, except that Loki filters the raw line: in a JSON line a
quote in the message is stored as `\"`, so a query containing quotes does not match it.
Not yet tested against a live Loki server: the tests check these exact requests with a local fake.
"""

from __future__ import annotations

import re
import time
from typing import Any

import httpx

from tools.backends.base import BackendError, LogPage, LogRecord
from tools.backends.logfiles import parse_line
from tools.backends.retry import with_budget

LEVEL_REGEX = {
    "error": "(?i)(error|err|fatal|critical|crit|panic|emerg|alert|severe)",
    "warn": "(?i)(warn|warning)",
    "info": "(?i)(info|information|notice|debug|trace)",
}
_RE2_SPECIAL = re.compile(r"([\\.+*?()|\[\]{}^$])")


def logql_string(s: str) -> str:
    """A LogQL double-quoted string literal (Go escaping of backslash, quote and newlines)."""
    body = s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{body}"'


def build_logql(
    query: str,
    service: str | None,
    level: str | None,
    *,
    service_label: str = "service",
    level_label: str = "",
) -> str:
    """The LogQL log query for one search_logs call."""
    matchers = [f"{service_label}={logql_string(service)}" if service else f'{service_label}=~".+"']
    pipeline: list[str] = []
    if query:
        if len(query) >= 2 and query.startswith("/") and query.endswith("/"):
            pattern = query[1:-1]
            try:
                re.compile(pattern)
            except re.error as e:
                raise ValueError(f"query: bad regular expression {query!r}: {e}") from None
        else:
            pattern = "(?i)" + _RE2_SPECIAL.sub(r"\\\1", query)
        pipeline.append(f"|~ {logql_string(pattern)}")
    if level:
        if level_label:
            matchers.append(f"{level_label}=~{logql_string(LEVEL_REGEX[level])}")
        else:
            pipeline.append(f"| json | level=~{logql_string(LEVEL_REGEX[level])}")
    return "{" + ", ".join(matchers) + "}" + "".join(" " + p for p in pipeline)


class _Retryable(Exception):
    pass


class LokiLogs:
    """LogSource over Loki's HTTP API."""

    name = "loki"

    def __init__(
        self,
        url: str,
        *,
        service_label: str = "service",
        level_label: str = "",
        tenant: str = "",
        timeout_s: float = 5.0,
        service_map: dict[str, str] | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.service_label = service_label
        self.level_label = level_label
        self.tenant = tenant
        self.timeout_s = timeout_s
        self.service_map = dict(service_map or {})
        self._reverse = {v: k for k, v in self.service_map.items()}
        self._client = client or httpx.Client()

    @property
    def label(self) -> str:
        return f"loki at {self.url}"

    def get(self, path: str, params: dict[str, Any]) -> Any:
        """GET a Loki API path; returns the JSON `data`. Raises BackendError naming this Loki."""
        headers = {"X-Scope-OrgID": self.tenant} if self.tenant else {}

        def once(left: float) -> Any:
            try:
                r = self._client.get(f"{self.url}{path}", params=params, headers=headers, timeout=left)
            except (httpx.ConnectError, httpx.TimeoutException, httpx.RemoteProtocolError) as e:
                raise _Retryable("connection refused or unreachable" if isinstance(e, httpx.ConnectError)
                                 else "timed out") from e
            except httpx.HTTPError as e:
                raise BackendError(f"{self.label}: {e}") from e
            if r.status_code >= 500 or r.status_code == 429:
                raise _Retryable(f"HTTP {r.status_code}: {r.text[:200].strip()}")
            if r.status_code != 200:
                raise BackendError(f"{self.label}: HTTP {r.status_code}: {r.text[:300].strip()}")
            try:
                body = r.json()
            except ValueError:
                raise BackendError(f"{self.label}: not a Loki API answer") from None
            if body.get("status") != "success":
                raise BackendError(f"{self.label}: {body.get('error', 'query failed')}")
            return body.get("data") or {}

        return with_budget(once, timeout_s=self.timeout_s, retryable=lambda e: isinstance(e, _Retryable),
                           label=self.label)

    def search(self, query: str, service: str | None, level: str | None, window_s: int, limit: int) -> LogPage:
        svc = self.service_map.get(service, service) if service else None
        logql = build_logql(query, svc, level, service_label=self.service_label, level_label=self.level_label)
        end_ns = time.time_ns()
        start_ns = end_ns - int(window_s) * 1_000_000_000
        data = self.get("/loki/api/v1/query_range", {
            "query": logql, "start": str(start_ns), "end": str(end_ns), "limit": str(limit), "direction": "backward",
        })
        lines: list[LogRecord] = []
        for stream in data.get("result", []):
            labels = stream.get("stream", {})
            stream_svc = labels.get(self.service_label, svc or "")
            for ts_ns, text in stream.get("values", []):
                rec = parse_line(text, stream_svc)
                lvl = rec.level if rec else "info"
                if self.level_label and labels.get(self.level_label):
                    lvl = _level_of(labels[self.level_label]) or lvl
                msg = rec.message if rec else text
                name = rec.service if rec and rec.service else stream_svc
                lines.append(LogRecord(int(ts_ns) / 1e9, self._reverse.get(name, name), lvl, msg))
        lines.sort(key=lambda r: -r.ts)
        lines = lines[:limit]
        total = self._count(logql, window_s, end_ns, len(lines))
        return LogPage(lines, max(total, len(lines)))

    def _count(self, logql: str, window_s: int, end_ns: int, fallback: int) -> int:
        try:
            data = self.get("/loki/api/v1/query", {
                "query": f"sum(count_over_time({logql} [{int(window_s)}s]))", "time": str(end_ns),
            })
        except BackendError:
            return fallback
        result = data.get("result", [])
        if not result:
            return 0
        try:
            return int(float(result[0]["value"][1]))
        except (KeyError, IndexError, TypeError, ValueError):
            return fallback


def _level_of(word: str) -> str | None:
    for level, rx in LEVEL_REGEX.items():
        if re.fullmatch(rx, word):
            return level
    return None
