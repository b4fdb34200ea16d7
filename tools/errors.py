"""The error types keel raises on purpose: bad input a caller can fix. HTTP answers them with 400; any other
exception is a bug and answers 500 (with the traceback in the log)."""

from __future__ import annotations


class InvalidInput(ValueError):
    """Input that does not satisfy what keel accepts; the message names the field and the allowed values."""
