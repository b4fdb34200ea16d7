"""A local stand-in for Loki that checks each request against the Loki HTTP API reference and answers it
by evaluating the LogQL it was sent over an in-memory set of streams.

Checked (https://grafana.com/docs/loki/latest/reference/loki-http-api/):
- `GET /loki/api/v1/query_range`: parameters among query, start, end, limit, direction, since, step,
  interval; `query` required; start/end as Unix epoch nanoseconds (integers) with start < end; limit a
  positive integer; direction `forward` or `backward`. Answers `{"status": "success", "data":
  {"resultType": "streams", "result": [{"stream": {...}, "values": [["<ns>", "<line>"], ...]}]}}`.
- `GET /loki/api/v1/label/<name>/values`: `{"status": "success", "data": [values]}`.
- `GET /loki/api/v1/query`: query, limit, time, direction; the metric query
  `sum(count_over_time(<log query> [<N>s]))` answers a vector `[{"metric": {}, "value": [<s>, "<n>"]}]`.
- LogQL: a stream selector with at least one matcher that does not match the empty string, then line
  filters (`|=`, `!=`, `|~`, `!~` with Go-quoted strings), `| json`, and label filters (`| l="v"`,
  `| l=~"re"`). Anything else is a 400 "parse error", as Loki would answer.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

RANGE_PARAMS = {"query", "start", "end", "limit", "direction", "since", "step", "interval"}
INSTANT_PARAMS = {"query", "limit", "time", "direction"}
_STR = r'"(?:[^"\\]|\\.)*"'
_MATCHER = re.compile(rf"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*({_STR})\s*")
_LINE_FILTER = re.compile(rf"\s*(\|=|!=|\|~|!~)\s*({_STR})")
_JSON = re.compile(r"\s*\|\s*json\b")
_LABEL_FILTER = re.compile(rf"\s*\|\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*({_STR})")
_COUNT = re.compile(r"^sum\(count_over_time\((.*)\s\[(\d+)s\]\)\)$", re.S)


class LogQLError(ValueError):
    pass


def unquote(s: str) -> str:
    return str(json.loads(s))  # Go and JSON double-quoted strings escape alike for what is sent here


def _label_ok(op: str, want: str, value: str) -> bool:
    if op == "=":
        return value == want
    if op == "!=":
        return value != want
    full = re.fullmatch(want, value) is not None
    return full if op == "=~" else not full


@dataclass
class Query:
    matchers: list[tuple[str, str, str]]
    line_filters: list[tuple[str, str]] = field(default_factory=list)
    json: bool = False
    label_filters: list[tuple[str, str, str]] = field(default_factory=list)


def parse_logql(text: str) -> Query:
    text = text.strip()
    if not text.startswith("{") or "}" not in text:
        raise LogQLError("parse error : queries require at least one stream selector")
    close = text.index("}")
    inner, rest = text[1:close], text[close + 1:]
    matchers, pos = [], 0
    while pos < len(inner):
        m = _MATCHER.match(inner, pos)
        if not m:
            raise LogQLError(f"parse error at {pos}: bad matcher in {inner!r}")
        matchers.append((m[1], m[2], unquote(m[3])))
        pos = m.end()
        if pos < len(inner):
            if inner[pos] != ",":
                raise LogQLError(f"parse error at {pos}: expected ','")
            pos += 1
    if not matchers or all(_label_ok(op, v, "") for _, op, v in matchers):
        raise LogQLError("parse error : queries require at least one regexp or equality matcher that does not "
                         "have an empty-compatible value")
    q = Query(matchers)
    while rest.strip():
        for rx in (_LINE_FILTER, _JSON, _LABEL_FILTER):
            m = rx.match(rest)
            if m:
                break
        else:
            raise LogQLError(f"parse error : unexpected {rest.strip()[:30]!r}")
        if rx is _LINE_FILTER:
            value = unquote(m[2])
            if m[1] in ("|~", "!~"):
                try:
                    re.compile(value)
                except re.error as e:
                    raise LogQLError(f"parse error : invalid regexp {value!r}: {e}") from None
            q.line_filters.append((m[1], value))
        elif rx is _JSON:
            q.json = True
        else:
            q.label_filters.append((m[1], m[2], unquote(m[3])))
        rest = rest[m.end():]
    return q


@dataclass
class Stream:
    labels: dict[str, str]
    entries: list[tuple[int, str]]  # (ns, line)


def evaluate(q: Query, streams: list[Stream], start: int, end: int) -> dict[tuple, list[tuple[int, str]]]:
    out: dict[tuple, list[tuple[int, str]]] = {}
    for s in streams:
        if not all(_label_ok(op, v, s.labels.get(k, "")) for k, op, v in q.matchers):
            continue
        for ns, line in s.entries:
            if not start <= ns < end:
                continue
            ok = True
            for op, v in q.line_filters:
                if op == "|=":
                    ok = v in line
                elif op == "!=":
                    ok = v not in line
                elif op == "|~":
                    ok = re.search(v, line) is not None
                else:
                    ok = re.search(v, line) is None
                if not ok:
                    break
            if not ok:
                continue
            labels = dict(s.labels)
            if q.json:
                try:
                    obj = json.loads(line)
                    labels.update({k: str(v) for k, v in obj.items() if not isinstance(v, dict | list)})
                except ValueError:
                    labels["__error__"] = "JSONParserErr"
            if not all(_label_ok(op, v, labels.get(k, "")) for k, op, v in q.label_filters):
                continue
            out.setdefault(tuple(sorted(labels.items())), []).append((ns, line))
    return out


class FakeLoki:
    def __init__(self, streams: list[Stream], tenant: str | None = None) -> None:
        self.streams = streams
        self.tenant = tenant
        self.requests: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.fail_next: list[int] = []  # HTTP statuses to answer before serving normally

    def handle(self, method: str, path: str, params: dict[str, str], headers: dict[str, str]) -> tuple[int, Any]:
        self.requests.append({"method": method, "path": path, "params": params, "headers": headers})
        if self.fail_next:
            return self.fail_next.pop(0), "too many outstanding requests"
        if method != "GET":
            return 405, "method not allowed"
        if self.tenant is not None and headers.get("x-scope-orgid") != self.tenant:
            return 401, "no org id"
        if path == "/ready":
            return 200, "ready"
        if m := re.fullmatch(r"/loki/api/v1/label/([A-Za-z_][A-Za-z0-9_]*)/values", path):
            values = sorted({s.labels[m[1]] for s in self.streams if m[1] in s.labels})
            return 200, {"status": "success", "data": values}
        try:
            if path == "/loki/api/v1/query_range":
                return 200, self._range(params)
            if path == "/loki/api/v1/query":
                return 200, self._instant(params)
        except LogQLError as e:
            self.errors.append(str(e))
            return 400, str(e)
        return 404, "404 page not found"

    def _check(self, params: dict[str, str], allowed: set[str]) -> None:
        unknown = set(params) - allowed
        if unknown:
            raise LogQLError(f"unknown parameters {sorted(unknown)}")
        if "query" not in params:
            raise LogQLError("query parameter is required")
        if "limit" in params and not (params["limit"].isdigit() and int(params["limit"]) > 0):
            raise LogQLError(f"invalid limit {params['limit']!r}")
        if params.get("direction", "backward") not in ("forward", "backward"):
            raise LogQLError(f"invalid direction {params['direction']!r}")
        for k in ("start", "end", "time"):
            if k in params and not params[k].isdigit():
                raise LogQLError(f"{k}: expected Unix epoch nanoseconds, got {params[k]!r}")

    def _range(self, params: dict[str, str]) -> dict[str, Any]:
        self._check(params, RANGE_PARAMS)
        end = int(params.get("end", time.time_ns()))
        start = int(params.get("start", end - 3600 * 10**9))
        if start >= end:
            raise LogQLError("end timestamp must not be before or equal to start time")
        q = parse_logql(params["query"])
        limit = int(params.get("limit", 100))
        found = evaluate(q, self.streams, start, end)
        entries = sorted(((ns, line, key) for key, es in found.items() for ns, line in es),
                         reverse=params.get("direction", "backward") == "backward")[:limit]
        result: dict[tuple, list[list[str]]] = {}
        for ns, line, key in entries:
            result.setdefault(key, []).append([str(ns), line])
        return {"status": "success", "data": {"resultType": "streams", "result": [
            {"stream": dict(key), "values": values} for key, values in result.items()]}}

    def _instant(self, params: dict[str, str]) -> dict[str, Any]:
        self._check(params, INSTANT_PARAMS)
        m = _COUNT.match(params["query"].strip())
        if not m:
            raise LogQLError("parse error : this fake answers only sum(count_over_time(<query> [Ns]))")
        at = int(params.get("time", time.time_ns()))
        n = sum(len(v) for v in evaluate(parse_logql(m[1]), self.streams, at - int(m[2]) * 10**9, at + 1).values())
        return {"status": "success", "data": {"resultType": "vector", "result": [
            {"metric": {}, "value": [at / 1e9, str(n)]}] if n else []}}


@contextmanager
def serve_fake(app: Any) -> Iterator[str]:
    """Serve `app.handle(method, path, params, headers)` on 127.0.0.1; yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def _go(self) -> None:
            parts = urlsplit(self.path)
            params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            if body:
                headers["__body__"] = body.decode()
            status, payload = app.handle(self.command, parts.path, params, headers)
            data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain" if isinstance(payload, str) else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _go

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
