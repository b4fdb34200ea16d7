"""Logging setup: human-readable lines by default, JSON lines (`log_format = "json"`) carrying the ids of
what is being worked on (conversation, incident, audit record) when set.

The ids live in context variables: `log_context(conversation_id=..., incident_id=...)` sets them for the
code it wraps (threads started inside get a copy only if they copy the context), and `IdsFilter` copies
them onto every record. `extra={"audit_id": ...}` on a single call works too.
"""

from __future__ import annotations

import contextvars
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

IDS = ("conversation_id", "incident_id", "audit_id")
_VARS: dict[str, contextvars.ContextVar[str | None]] = {k: contextvars.ContextVar(k, default=None) for k in IDS}
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"


@contextmanager
def log_context(**ids: str | None) -> Iterator[None]:
    """Set ids (conversation_id, incident_id, audit_id) for log records made inside."""
    unknown = set(ids) - set(IDS)
    if unknown:
        raise ValueError(f"log_context: unknown id {sorted(unknown)}; allowed: {', '.join(IDS)}")
    tokens = [(_VARS[k], _VARS[k].set(v)) for k, v in ids.items() if v is not None]
    try:
        yield
    finally:
        for var, tok in reversed(tokens):
            var.reset(tok)


def current_ids() -> dict[str, str]:
    return {k: v for k, var in _VARS.items() if (v := var.get()) is not None}


class IdsFilter(logging.Filter):
    """Puts the context's ids on the record (an id passed with `extra=` wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for k, v in current_ids().items():
            if getattr(record, k, None) is None:
                setattr(record, k, v)
        return True


def json_formatter() -> logging.Formatter:
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter(JSON_FIELDS, rename_fields={"levelname": "level", "name": "logger", "asctime": "ts"},
                         timestamp=False)


def configure_logging(fmt: Literal["text", "json"] = "text", level: str = "INFO",
                      stream: object = None) -> logging.Handler:
    """Replace the root logger's handlers with one in `fmt` on `stream` (stderr); returns the handler."""
    if fmt not in ("text", "json"):
        raise ValueError(f"log_format: got {fmt!r}; allowed: text, json")
    handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
    handler.setFormatter(json_formatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(IdsFilter())
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level.upper())
    return handler
