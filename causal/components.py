"""Which service a component belongs to, from names alone.

A system often exposes one service as several components: `orders` and `orders-db`, `checkout` and
`checkout_AWS::Lambda`, `cart` and `cart.worker`. A component whose name is another known name followed by
a separator (`-`, `_`, `.`, `/`, `:`) and a suffix belongs to that name's service (the longest such name
wins, and the owner's own service is followed, so `a_b_c` -> `a_b` -> `a`). Names that extend no other
known name are their own service. Pure functions; no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable

SEPARATORS = ("-", "_", ".", "/", ":")


def owner(name: str, known: set[str]) -> str | None:
    """The longest known name that `name` extends by a separator and a suffix, or None."""
    best: str | None = None
    for i, ch in enumerate(name):
        if ch in SEPARATORS and i > 0:
            head = name[:i]
            if head in known and head != name and (best is None or len(head) > len(best)):
                best = head
    return best


def group(components: Iterable[str], extra_names: Iterable[str] = ()) -> dict[str, str]:
    """component -> service for every component; `extra_names` (e.g. call-graph nodes with no metrics)
    can own components but are not returned themselves."""
    comps = list(dict.fromkeys(components))
    known = set(comps) | set(extra_names)
    parent = {c: owner(c, known) for c in comps}

    def root(c: str) -> str:
        seen = {c}
        while (p := parent.get(c) if c in parent else owner(c, known)) is not None and p not in seen:
            seen.add(p)
            c = p
        return c

    return {c: root(c) for c in comps}
