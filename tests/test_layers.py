"""Packages depend downward only: every import (module level or inside a function) of every module is checked
against the layers below, and neither the top-level packages nor the modules import each other in a cycle.

The layers are drawn in docs/ARCHITECTURE.md; a module belongs to the first (most specific) layer its dotted
name starts with.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]

# Top first: a layer may import itself and any layer after it, never one before it.
LAYERS: tuple[str, ...] = ("cli", "evals", "agent", "finetune", "runtime", "governance", "tools", "causal", "config")
PACKAGES = tuple(sorted({layer.split(".")[0] for layer in LAYERS}))


def layer_of(module: str) -> str | None:
    for layer in LAYERS:
        if module == layer or module.startswith(layer + "."):
            return layer
    return None


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> list[str]:
    if node.level == 0:
        base = node.module or ""
    else:
        pkg = module.split(".") if is_package else module.split(".")[:-1]
        pkg = pkg[: len(pkg) - (node.level - 1)]
        base = ".".join(pkg + ([node.module] if node.module else []))
    return [base] + [f"{base}.{a.name}" for a in node.names]


def imports() -> list[tuple[str, str, int]]:
    """(importing module, imported name, line) for every import in the project's packages."""
    out = []
    for pkg in PACKAGES:
        if not (ROOT / pkg).is_dir():
            continue
        for path in sorted((ROOT / pkg).rglob("*.py")):
            module = _module_name(path)
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    out += [(module, a.name, node.lineno) for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    out += [(module, name, node.lineno) for name in _resolve(module, path.name == "__init__.py", node)]
    return out


IMPORTS = imports()


def upward(edges: list[tuple[str, str, int]]) -> list[str]:
    bad = []
    for src, dst, line in edges:
        a, b = layer_of(src), layer_of(dst)
        if a is None or b is None or a == b:
            continue
        if LAYERS.index(b) < LAYERS.index(a):
            bad.append(f"{src}:{line} imports {dst} ({a} may not import {b})")
    return sorted(set(bad))


def package_cycles(edges: list[tuple[str, str, int]]) -> list[list[str]]:
    g = nx.DiGraph()
    for src, dst, _ in edges:
        a, b = src.split(".")[0], dst.split(".")[0]
        if a in PACKAGES and b in PACKAGES and a != b:
            g.add_edge(a, b)
    return [sorted(c) for c in nx.simple_cycles(g)]


def module_cycles(edges: list[tuple[str, str, int]]) -> list[list[str]]:
    """Groups of modules that import each other (directly or round a loop), imports inside functions included."""
    known = {src for src, _, _ in edges}
    g = nx.DiGraph()
    for src, dst, _ in edges:
        parts = dst.split(".")
        target = next((".".join(parts[:k]) for k in range(len(parts), 0, -1) if ".".join(parts[:k]) in known), None)
        if target is not None and target != src:
            g.add_edge(src, target)
    return sorted(sorted(c) for c in nx.strongly_connected_components(g) if len(c) > 1)


def test_the_checks_see_the_project() -> None:
    assert len(IMPORTS) > 500 and {layer_of(s) for s, _, _ in IMPORTS} >= {"agent", "tools", "governance", "causal"}


def test_no_upward_imports() -> None:
    assert upward(IMPORTS) == []


def test_no_cycles_between_top_level_packages() -> None:
    assert package_cycles(IMPORTS) == []


def test_no_cycles_between_modules() -> None:
    assert module_cycles(IMPORTS) == []


@pytest.mark.parametrize(("edge", "expected"), [
    (("tools.scaling", "finetune.policy.env", 1), True),
    (("governance.gate", "agent.service", 1), True),
    (("tools.backends.factory", "config.settings", 1), False),
    (("agent.graph.nodes", "governance.gate", 1), False),
    (("cli.main", "evals.rca", 1), False),
])
def test_the_layer_rule_flags_what_it_should(edge: tuple[str, str, int], expected: bool) -> None:
    assert bool(upward([edge])) is expected


def test_a_cycle_between_packages_is_found() -> None:
    assert package_cycles([("tools.a", "causal.b", 1), ("causal.b", "tools.c", 2)]) == [["causal", "tools"]]


def test_a_cycle_between_modules_is_found() -> None:
    edges = [("tools.a", "tools.b.thing", 1), ("tools.b", "tools.c", 2), ("tools.c", "tools.a", 3),
             ("tools.d", "tools.a", 4)]
    assert module_cycles(edges) == [["tools.a", "tools.b", "tools.c"]]
