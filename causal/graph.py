"""The service-graph prior (networkx): call edges caller -> callee over a case's components.

Used three ways: to restrict causal discovery to plausible adjacencies, to check whether a candidate's
own dependencies are healthy, and to explain a candidate with a path from the symptom to it.
"""

from __future__ import annotations

import itertools

import networkx as nx

from causal.case import Case


def component_graph(case: Case) -> nx.DiGraph | None:
    """The case's call graph over its components, or None when the case has none.

    A graph given over services is expanded to the components of each service; nodes with no metrics
    are kept out, but edges through them are bridged so that reachability is preserved.
    """
    if case.graph is None or case.graph.number_of_edges() == 0:
        return None
    comps = case.components
    members: dict[str, list[str]] = {}
    for c in comps:
        members.setdefault(c, []).append(c)
        if case.service(c) != c:
            members.setdefault(case.service(c), []).append(c)
    g = nx.DiGraph()
    g.add_nodes_from(comps)
    raw = case.graph
    for a, b in raw.edges():
        targets_a, targets_b = members.get(str(a)), members.get(str(b))
        if targets_a and targets_b:
            for x, y in itertools.product(targets_a, targets_b):
                if x != y:
                    g.add_edge(x, y)
    # bridge through nodes that carry no metrics (e.g. a gateway or database without series)
    for n in raw.nodes():
        if str(n) in members:
            continue
        ups = [members[str(p)] for p in raw.predecessors(n) if str(p) in members]
        downs = [members[str(s)] for s in raw.successors(n) if str(s) in members]
        for x, y in itertools.product(itertools.chain(*ups), itertools.chain(*downs)):
            if x != y:
                g.add_edge(x, y)
    # components of the same service depend on each other (e.g. a service and its database)
    by_service: dict[str, list[str]] = {}
    for c in comps:
        by_service.setdefault(case.service(c), []).append(c)
    for group in by_service.values():
        for x, y in itertools.permutations(group, 2):
            g.add_edge(x, y)
    return g if g.number_of_edges() else None


def adjacent(g: nx.DiGraph | None, a: str, b: str) -> bool:
    """True when a and b are the same component, or call each other (either way); always True without a graph."""
    if g is None or a == b:
        return True
    return g.has_edge(a, b) or g.has_edge(b, a)


def dependencies(g: nx.DiGraph | None, c: str) -> list[str]:
    return sorted(g.successors(c)) if g is not None and c in g else []


def depth(g: nx.DiGraph | None, c: str) -> int:
    """Call depth from the nearest entry (a component only its own service's components call); 0 without a graph."""
    if g is None or c not in g:
        return 0
    entries = [n for n in g.nodes if all(g.has_edge(n, p) for p in g.predecessors(n))]
    best = None
    for e in entries:
        try:
            d = nx.shortest_path_length(g, e, c)
        except nx.NetworkXNoPath:
            continue
        best = d if best is None else min(best, d)
    return best if best is not None else 0


def explain_path(g: nx.DiGraph | None, symptom: str, cause: str, weight: dict[str, float]) -> list[str]:
    """A path from the symptom to the cause: along calls when possible (the most anomalous of the shortest
    ones), else over the undirected graph, else just [symptom, cause]."""
    if symptom == cause:
        return [symptom]
    if g is None or symptom not in g or cause not in g:
        return [symptom, cause]
    for graph in (g, g.to_undirected(as_view=True)):
        try:
            paths = list(itertools.islice(nx.all_shortest_paths(graph, symptom, cause), 50))
        except nx.NetworkXNoPath:
            continue
        return max(paths, key=lambda p: sum(weight.get(n, 0.0) for n in p[1:-1]))
    return [symptom, cause]
