"""Grounding: a model's sentence may only state numbers and service names that occur in what it was given.

One tokenizer for numbers (digits glued to letters, like p99, are not numbers) and one for service names,
and the three checks that use them:
- `is_grounded(text, sources)`: the agent's answer; every number token and service name of `text` occurs
  as a token in the source texts (the tool results);
- `summary_grounded(summary, findings)`: the planner's summary of a findings dict; numbers may also appear
  as the summary prints them (`fmt`), names anywhere in the findings' JSON;
- `ungrounded(text, source, renderings)`: the incident narrative; the numbers and names of `text` that are
  not in `source`, where a source number counts in every rendering `renderings(x)` gives.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from tools.services import names_alternation, service_names

NUMBER = re.compile(r"(?<![A-Za-z_\d.])\d+(?:\.\d+)?")
_SUMMARY_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?")  # as the summary model's training data was checked


def numbers_in(text: str) -> set[str]:
    """Number tokens of a text."""
    return set(NUMBER.findall(text))


def services_in(text: str, whole: bool = False) -> set[str]:
    """The current topology's service names in a text; `whole`: only names not glued to a longer hyphenated
    word."""
    names = names_alternation()
    pattern = r"(?<![\w-])(" + names + r")(?![\w-])" if whole else r"\b(" + names + r")\b"
    return set(re.findall(pattern, text))


def is_grounded(text: str, sources: Iterable[str]) -> bool:
    """True when every number and service name in `text` occurs in the source texts."""
    joined = "\n".join(sources)
    return numbers_in(text) <= numbers_in(joined) and services_in(text) <= services_in(joined)


def fmt(x: Any) -> str:
    """Numbers as the planner's summary prints them (3 significant digits below 10, whole numbers above)."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        return str(x)
    if isinstance(x, float) and not x.is_integer():
        return f"{x:.3g}" if abs(x) < 10 else f"{x:.0f}"
    return str(int(x))


def summary_grounded(summary: str, findings: Mapping[str, Any]) -> bool:
    """True when every number and service named in `summary` also appears in the findings."""
    blob = json.dumps(findings, default=str)
    nums = set(_SUMMARY_NUMBER.findall(blob))
    nums |= {fmt(float(n)) for n in nums}
    for n in _SUMMARY_NUMBER.findall(summary):
        if n not in nums and fmt(float(n)) not in nums:
            return False
    named = {s for s in service_names() if re.search(rf"\b{re.escape(s)}\b", summary)}
    return all(s in blob for s in named)


def canonical(n: str) -> str:
    """A number token in one spelling (`12.0` and `12` alike)."""
    v = float(n)
    return str(int(v)) if v.is_integer() else repr(v)


def canonical_renderings(x: float, renderings: Callable[[float], Iterable[str]]) -> set[str]:
    """Every way `renderings` may print `x`, canonical."""
    return {canonical(r) for r in renderings(x)}


def ungrounded(text: str, source: str, renderings: Callable[[float], Iterable[str]]) -> list[str]:
    """Numbers and service names in `text` that do not occur in `source` (empty: grounded)."""
    known = {c for n in numbers_in(source) for c in canonical_renderings(float(n), renderings)}
    missing = [n for n in sorted(numbers_in(text)) if canonical(n) not in known]
    missing += sorted(services_in(text, whole=True) - services_in(source, whole=True))
    return missing
