"""Parse and normalise duration strings such as "5m", "1h", "90s", "2h30m"."""

from __future__ import annotations

import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])")
_WORDS = {
    "sec": "s", "secs": "s", "second": "s", "seconds": "s",
    "min": "m", "mins": "m", "minute": "m", "minutes": "m",
    "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
    "day": "d", "days": "d",
}


def parse_duration(text: str | int | float) -> int:
    """Return the duration in seconds. Accepts "15m", "1h30m", "90s", "2 hours", or a bare number of minutes."""
    if isinstance(text, bool):
        raise ValueError(f"bad duration {text!r}; use forms like 5m, 1h, 90s")
    if isinstance(text, int | float):
        if text <= 0:
            raise ValueError(f"bad duration {text!r}; must be positive")
        return int(text * 60)
    s = text.strip().lower()
    for word, unit in sorted(_WORDS.items(), key=lambda kv: -len(kv[0])):
        s = re.sub(rf"(\d)\s*{word}\b", rf"\g<1>{unit}", s)
    if re.fullmatch(r"\d+(\.\d+)?", s):
        s += "m"
    compact = s.replace(" ", "")
    parts = _PART.findall(compact)
    if not parts or "".join(n + u for n, u in parts) != compact:
        raise ValueError(f"bad duration {text!r}; use forms like 5m, 1h, 90s, 2h30m")
    seconds = int(sum(float(n) * _UNITS[u] for n, u in parts))
    if seconds <= 0:
        raise ValueError(f"bad duration {text!r}; must be positive")
    return seconds


def format_duration(seconds: int) -> str:
    """Canonical short form: the largest unit that divides evenly ("3600" -> "1h", "5400" -> "90m")."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def normalise_duration(text: str | int | float) -> str:
    return format_duration(parse_duration(text))


def minutes(text: str | int | float) -> int:
    """Duration in whole minutes, at least 1."""
    return max(1, parse_duration(text) // 60)
