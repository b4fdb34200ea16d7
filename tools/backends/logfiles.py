"""Log-file backend for search_logs: JSON-lines and plain-text files in a directory, rotated files included.

Files: everything under `log_dir` matching `glob` (default `*.log*`: `app.log`, `app.log.1`, `app.log.2.gz`).
A file last written before the window starts is skipped without being read.

Lines:
- JSON objects: time from `ts`/`time`/`timestamp`/`@timestamp` (ISO 8601 or epoch seconds/ms), level from
  `level`/`severity`/`lvl`, text from `message`/`msg`/`log`, service from `service`/`app`/`service_name`.
- Plain text: `<ISO time> [LEVEL] [service:] message`, e.g. `2026-01-01T10:00:00Z ERROR payment: timeout`
  or `2026-01-01 10:00:00,123 WARN slow request`; without a service the file name gives it (`cartservice.log`).
  Times without a zone are UTC. Lines without a time (stack-trace continuations) are skipped.
Levels are normalised to error / warn / info (fatal, critical -> error; warning -> warn; debug, notice -> info).
A query is a case-insensitive substring of the message or service, or a regular expression when
written between slashes: `/timeout|deadline/`.
"""

from __future__ import annotations

import gzip
import heapq
import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from tools.backends.base import BackendError, LogPage, LogRecord

LEVEL_WORDS = {
    "error": "error", "err": "error", "fatal": "error", "critical": "error", "crit": "error", "panic": "error",
    "emerg": "error", "alert": "error", "severe": "error",
    "warn": "warn", "warning": "warn",
    "info": "info", "information": "info", "notice": "info", "debug": "info", "trace": "info",
}
_TS_KEYS = ("ts", "time", "timestamp", "@timestamp", "t")
_LEVEL_KEYS = ("level", "severity", "lvl", "levelname", "log.level")
_MSG_KEYS = ("message", "msg", "log", "text")
_SVC_KEYS = ("service", "app", "service_name", "serviceName", "logger")
_PLAIN = re.compile(
    r"^(?P<ts>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?)\s+(?P<rest>.*)$"
)
_SVC_TOKEN = re.compile(r"^\[?(?P<svc>[a-z0-9_.-]+)\]?:$|^\[(?P<svc2>[a-z0-9_.-]+)\]$")


def normalise_level(word: Any) -> str | None:
    return LEVEL_WORDS.get(str(word).strip("[]:").lower()) if word is not None else None


def parse_time(value: Any) -> float | None:
    """Epoch seconds from an ISO 8601 string or an epoch number (seconds, ms or ns)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        v = float(value)
    elif isinstance(value, str):
        s = value.strip()
        try:
            v = float(s)
        except ValueError:
            s = s.replace(",", ".")
            if s.endswith("Z"):
                s = s[:-1] + "+00:00"
            try:
                dt = datetime.fromisoformat(s)
            except ValueError:
                return None
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=UTC)
            return dt.timestamp()
    else:
        return None
    if v > 1e17:
        return v / 1e9
    if v > 1e11:
        return v / 1e3
    return v


def _first(d: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for k in keys:
        if k in d and d[k] not in (None, ""):
            return d[k]
    return None


def parse_line(text: str, default_service: str) -> LogRecord | None:
    """One log line as a record, or None when it has no usable timestamp."""
    text = text.strip()
    if not text:
        return None
    if text.startswith("{"):
        try:
            obj = json.loads(text)
        except ValueError:
            obj = None
        if isinstance(obj, dict):
            ts = parse_time(_first(obj, _TS_KEYS))
            if ts is None:
                return None
            lvl = normalise_level(_first(obj, _LEVEL_KEYS)) or "info"
            msg = _first(obj, _MSG_KEYS)
            svc = _first(obj, _SVC_KEYS)
            return LogRecord(ts, str(svc) if svc else default_service, lvl, str(msg) if msg is not None else text)
    m = _PLAIN.match(text)
    if not m:
        return None
    ts = parse_time(m["ts"])
    if ts is None:
        return None
    rest = m["rest"].split(None, 2)
    level = None
    if rest and normalise_level(rest[0]):
        level = normalise_level(rest.pop(0))
        rest = " ".join(rest).split(None, 1)
    service = default_service
    if rest:
        sm = _SVC_TOKEN.match(rest[0])
        named = (sm["svc"] or sm["svc2"]) if sm else None
        if named and len(rest) > 1 and not normalise_level(named):
            service = named
            rest = rest[1:]
    return LogRecord(ts, service, level or "info", " ".join(rest))


def _matcher(query: str) -> Callable[[LogRecord], bool]:
    if len(query) >= 2 and query.startswith("/") and query.endswith("/"):
        try:
            rx = re.compile(query[1:-1])
        except re.error as e:
            raise ValueError(f"query: bad regular expression {query!r}: {e}") from None
        return lambda r: bool(rx.search(r.message)) or bool(rx.search(r.service))
    q = query.lower()
    return lambda r: q in r.message.lower() or q in r.service.lower()


def _open(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return path.open("r", encoding="utf-8", errors="replace")


def service_of_file(path: Path) -> str:
    return path.name.split(".", 1)[0]


class FileLogs:
    """LogSource over a directory of log files."""

    name = "files"

    def __init__(
        self,
        log_dir: Path | str,
        *,
        glob: str = "*.log*",
        service_map: dict[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.log_dir = Path(log_dir)
        self.glob = glob
        self.service_map = dict(service_map or {})
        self._reverse = {v: k for k, v in self.service_map.items()}
        self.clock = clock

    @property
    def label(self) -> str:
        return f"log files in {self.log_dir}"

    def files(self) -> list[Path]:
        if not self.log_dir.is_dir():
            raise BackendError(f"{self.label}: directory does not exist or is not readable")
        return sorted(p for p in self.log_dir.glob(self.glob) if p.is_file())

    def records(self, since: float) -> Iterator[LogRecord]:
        """Every parseable record in files written to since `since` (any order)."""
        for path in self.files():
            try:
                if path.stat().st_mtime < since:
                    continue
                default = service_of_file(path)
                with _open(path) as fh:
                    for raw in fh:
                        rec = parse_line(raw, default)
                        if rec is not None:
                            yield rec
            except FileNotFoundError:
                continue  # rotated away while we listed
            except OSError as e:
                raise BackendError(f"{self.label}: cannot read {path.name}: {e}") from e

    def search(self, query: str, service: str | None, level: str | None, window_s: int, limit: int) -> LogPage:
        now = self.clock()
        since = now - window_s
        match = _matcher(query) if query else None
        want_svc = self.service_map.get(service, service) if service else None
        total = 0
        newest: list[tuple[float, int, LogRecord]] = []
        for n, rec in enumerate(self.records(since)):
            if rec.ts < since or rec.ts > now + 1.0:
                continue
            if want_svc is not None and rec.service != want_svc:
                continue
            if level is not None and rec.level != level:
                continue
            if match is not None and not match(rec):
                continue
            total += 1
            item = (rec.ts, n, rec)
            if len(newest) < limit:
                heapq.heappush(newest, item)
            elif item > newest[0]:
                heapq.heapreplace(newest, item)
        lines = [
            LogRecord(r.ts, self._reverse.get(r.service, r.service), r.level, r.message)
            for _, _, r in sorted(newest, reverse=True)
        ]
        return LogPage(lines, total)
