"""Service-name resolution, one function used everywhere: exact -> alias -> normalised -> fuzzy.

`resolve(name, inventory, for_write=...)` maps what a person (or the planner) wrote to one inventory name:
1. exact: the name as listed;
2. alias: an alias from a topology file or `[services.NAME]` in keel.toml (case-insensitive);
3. normalised: case, camelCase, `_`/`-`/`.`/space, a namespace (`shop/orders`, `orders.shop.svc...`), then
   also without a `-service`/`-svc` suffix and without a short prefix most names share (`ts-`);
4. fuzzy: rapidfuzz `WRatio` on the normalised forms, accepted when the best score is >= FUZZY_MIN and
   beats the runner-up by >= FUZZY_MARGIN (chosen on our own name lists: `evals/resolution_names.py`).
A read may use a fuzzy match (the result says so); a write only a unique exact, alias or normalised match.
Anything else is an error: `unknown_service` or `ambiguous_service`, with the three closest names.

`mentions(text, inventory)` finds the services a sentence names (exact, alias or normalised, longest
span first): what the keyword planner and the grounded-target check read.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from rapidfuzz import fuzz, process

from tools.inventory import Inventory

FUZZY_MIN = 92.0  # best WRatio a fuzzy match needs (chosen on evals/names: `python -m evals.resolution_names`)
FUZZY_MARGIN = 8.0  # and its lead over the runner-up
CLOSE_MIN = FUZZY_MIN - FUZZY_MARGIN  # a name fitting this well fits about as well as a fuzzy match may
SUFFIXES = ("service", "svc", "srv")
How = Literal["exact", "alias", "normalised", "fuzzy"]
Code = Literal["unknown_service", "ambiguous_service"]

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_WORD = re.compile(r"[a-z0-9]+")
_NAMESPACE_TAIL = re.compile(r"\.(svc(\.cluster\.local)?|cluster\.local)$")


@dataclass(frozen=True)
class Resolution:
    """The outcome of resolving one name: `name` (None on error), how, the fuzzy score, the closest names."""

    asked: str
    name: str | None
    how: How | None = None
    score: float = 100.0
    candidates: tuple[str, ...] = ()  # the three closest inventory names, best first
    code: Code | None = None

    @property
    def ok(self) -> bool:
        return self.name is not None

    def message(self) -> str:
        """What to tell a person: which name was used, or why none was."""
        if self.ok:
            if self.how in ("exact", None):
                return self.name or ""
            return f"{self.asked!r} resolved to {self.name} ({self.how}{self._score()})"
        near = did_you_mean(self.candidates)
        if self.code == "ambiguous_service":
            return f"ambiguous service {self.asked!r}{near}"
        return f"unknown service {self.asked!r}{near}"

    def _score(self) -> str:
        return f", score {self.score:.0f}" if self.how == "fuzzy" else ""


def did_you_mean(names: Sequence[str]) -> str:
    """`; did you mean a, b or c?` (empty without names)."""
    if not names:
        return ""
    if len(names) == 1:
        return f"; did you mean {names[0]}?"
    return f"; did you mean {', '.join(names[:-1])} or {names[-1]}?"


# ---------------------------------------------------------------------------------------------- normalising
def words(text: str) -> list[str]:
    """Lower-case word tokens, camelCase split (`journalWriter` -> journal, writer)."""
    return _WORD.findall(_CAMEL.sub(" ", text).lower())


def _strip_namespace(name: str) -> str:
    text = _NAMESPACE_TAIL.sub("", name.strip())
    if text != name.strip():  # orders.shop.svc.cluster.local: the service, then its namespace
        text = text.split(".", 1)[0]
    if "/" in text:
        text = text.rsplit("/", 1)[1]
    return text


@lru_cache(maxsize=64)
def common_prefixes(names: tuple[str, ...]) -> frozenset[str]:
    """Short first words (<= 3 letters) that at least a third of the names (and at least 3) start with: `ts`."""
    firsts = Counter(w[0] for w in (words(n) for n in names) if len(w) > 1 and len(w[0]) <= 3)
    need = max(3, len(names) / 3)
    return frozenset(p for p, k in firsts.items() if k >= need)


def forms(name: str, prefixes: frozenset[str] = frozenset()) -> tuple[tuple[str, ...], ...]:
    """A name's word forms, most specific first: as written, without a suffix, without a shared prefix, both."""
    w = tuple(words(_strip_namespace(name)))
    out = [w]
    if len(w) > 1 and w[-1] in SUFFIXES:
        out.append(w[:-1])
    elif len(w) == 1:
        for suf in SUFFIXES:  # `orderservice`, `ordersvc`
            if w[0].endswith(suf) and len(w[0]) > len(suf) + 2:
                out.append((w[0][: -len(suf)],))
                break
    for f in list(out):
        if len(f) > 1 and f[0] in prefixes:
            out.append(f[1:])
    return tuple(dict.fromkeys(f for f in out if f))


@dataclass(frozen=True)
class _Index:
    names: tuple[str, ...]
    lower: dict[str, str]
    aliases: dict[str, str]
    levels: tuple[dict[str, tuple[str, ...]], ...]  # per level: squashed form -> names having it
    choices: dict[str, str]  # spaced normalised form (names and aliases) -> name
    prefixes: frozenset[str]


@lru_cache(maxsize=32)
def _index(names: tuple[str, ...], alias_items: tuple[tuple[str, str], ...]) -> _Index:
    prefixes = common_prefixes(names)
    aliases = {a.lower(): n for a, n in alias_items}
    level0: dict[str, list[str]] = {}
    level1: dict[str, list[str]] = {}
    choices: dict[str, str] = {}
    for text, owner in [(n, n) for n in names] + list(aliases.items()):
        fs = forms(text, prefixes)
        key0 = "".join(fs[0])
        level0.setdefault(key0, []).append(owner)
        for f in fs[1:]:
            level1.setdefault("".join(f), []).append(owner)
        choices.setdefault(" ".join(fs[0]), owner)
    levels = tuple({k: tuple(dict.fromkeys(v)) for k, v in lv.items()} for lv in (level0, level1))
    return _Index(names, {n.lower(): n for n in names}, aliases, levels, choices, prefixes)


def index_of(inventory: Inventory) -> _Index:
    return _index(inventory.names, tuple(sorted(inventory.aliases.items())))


# ---------------------------------------------------------------------------------------------- resolving
def closest(name: str, inventory: Inventory, k: int = 3) -> tuple[str, ...]:
    """The k inventory names closest to `name` (WRatio on normalised forms, aliases counted for their service)."""
    return tuple(n for n, _ in _ranked(name, index_of(inventory))[:k])


def close_names(name: str, inventory: Inventory) -> tuple[str, ...]:
    """The inventory names that fit `name` about as well as a fuzzy match may (WRatio >= FUZZY_MIN -
    FUZZY_MARGIN, the level at which `resolve` calls two names a close pair), best first: the candidates a
    misspelt name may mean ("spmndle-db" -> spindle-db), none for a word that is no name at all ("p99")."""
    if not words(name):
        return ()
    return tuple(n for n, score in _ranked(name, index_of(inventory)) if score >= CLOSE_MIN)


def _ranked(name: str, ix: _Index) -> list[tuple[str, float]]:
    query = " ".join(forms(name, ix.prefixes)[0]) if words(name) else name.lower()
    best: dict[str, float] = {}
    for choice, score, _ in process.extract(query, list(ix.choices), scorer=fuzz.WRatio, limit=None):
        owner = ix.choices[choice]
        best[owner] = max(best.get(owner, 0.0), float(score))
    return sorted(best.items(), key=lambda x: (-x[1], ix.names.index(x[0])))


def resolve(name: str, inventory: Inventory, *, for_write: bool) -> Resolution:
    """Resolve `name` against the inventory; see the module docstring for the order and the rules."""
    asked = str(name)
    ix = index_of(inventory)
    if asked in inventory:
        return Resolution(asked, asked, "exact")
    text = asked.strip()
    if text.lower() in ix.lower:
        return Resolution(asked, ix.lower[text.lower()], "exact")
    if text.lower() in ix.aliases:
        return Resolution(asked, ix.aliases[text.lower()], "alias")
    if not words(text) or not inventory.names:
        return Resolution(asked, None, candidates=closest(text, inventory) if words(text) else (),
                          code="unknown_service")
    qforms = forms(text, ix.prefixes)
    full, every = ix.levels
    keys = ["".join(f) for f in qforms]
    for found in (full.get(keys[0], ()),  # the whole form, separators and case aside
                  tuple(dict.fromkeys(n for k in keys for n in full.get(k, ()) + every.get(k, ())))):
        if len(found) == 1:
            return Resolution(asked, found[0], "normalised")
        if len(found) > 1:
            return Resolution(asked, None, candidates=found[:3], code="ambiguous_service")
    ranked = _ranked(text, ix)
    top = tuple(n for n, _ in ranked[:3])
    best = ranked[0][1] if ranked else 0.0
    runner = ranked[1][1] if len(ranked) > 1 else 0.0
    if best >= FUZZY_MIN and best - runner >= FUZZY_MARGIN:
        if for_write:
            return Resolution(asked, None, score=best, candidates=top, code="unknown_service")
        return Resolution(asked, ranked[0][0], "fuzzy", best, top)
    close_pair = runner >= CLOSE_MIN and best - runner < FUZZY_MARGIN  # two names fit about as well
    code: Code = "ambiguous_service" if close_pair else "unknown_service"
    return Resolution(asked, None, score=best, candidates=top, code=code)


# ---------------------------------------------------------------------------------------------- mentions
@dataclass(frozen=True)
class Mention:
    service: str
    start: int  # word positions in `words(text)`
    end: int


def mentions(text: str, inventory: Inventory) -> list[Mention]:
    """Services named in `text` by name, alias or normalised form; overlapping matches keep the longest span.

    A one-word form shorter than 3 letters that is not the whole name (`ui` of `ts-ui`) does not count."""
    ix = index_of(inventory)
    toks = words(text)
    if not toks or not inventory.names:
        return []
    found: list[tuple[int, int, str]] = []
    for label, owner in [(n, n) for n in ix.names] + list(ix.aliases.items()):
        for k, f in enumerate(forms(label, ix.prefixes)):
            if k > 0 and len(f) == 1 and len(f[0]) < 3:
                continue
            squashed = "".join(f)
            for i in range(len(toks)):
                if tuple(toks[i:i + len(f)]) == f:
                    found.append((i, i + len(f), owner))
                j, acc = i, ""
                while j < len(toks) and len(acc) < len(squashed):  # `journalwriter` or `journal writer`
                    acc += toks[j]
                    j += 1
                    if acc == squashed and j - i != len(f):
                        found.append((i, j, owner))
    found.sort(key=lambda m: (-(m[1] - m[0]), m[0]))
    taken: set[int] = set()
    out: list[Mention] = []
    for i, j, owner in found:
        span = set(range(i, j))
        if span & taken:
            continue
        taken |= span
        out.append(Mention(owner, i, j))
    return sorted(out, key=lambda m: m.start)


def mentioned(text: str, inventory: Inventory) -> list[str]:
    """The services `text` names, in the order they appear (each once)."""
    return list(dict.fromkeys(m.service for m in mentions(text, inventory)))


STOP = frozenset("""a an the it its this that these those please pls now again just and or of on in for to from
with at by me my our we you i is are was be can could would should will do does did what whats why how
which who where when restart restarts restarting reboot bounce kick roll rollback back revert undo scale up
down out replicas replica pods pod instances to run runbook playbook check show tell about service services
svc is slow down broken failing wrong there here some all any one two three four five six seven eight nine ten
cpu memory latency errors error logs log metrics""".split())


def closest_span(text: str, inventory: Inventory, max_words: int = 3) -> tuple[str, float, tuple[str, ...]]:
    """The run of 1-3 non-filler words of `text` most like a service name: (span, best WRatio, closest names).

    What the agent quotes when it asks ("I don't see a service called billing worker; did you mean ...")."""
    toks = words(text)
    best: tuple[str, float, tuple[str, ...]] = ("", 0.0, ())
    ix = index_of(inventory)
    if not ix.names:
        return best
    for i in range(len(toks)):
        for n in range(1, max_words + 1):
            span = toks[i:i + n]
            if len(span) < n or any(w in STOP or w.isdigit() for w in span):
                break
            ranked = _ranked(" ".join(span), ix)
            if ranked and ranked[0][1] > best[1] + 1e-9:
                best = (" ".join(span), ranked[0][1], tuple(n_ for n_, _ in ranked[:3]))
    return best
