"""The service-graph prior (networkx): call edges caller -> callee over a case's components.

Used three ways: to restrict causal discovery to plausible adjacencies, to check whether a candidate's
own dependencies are healthy, and to explain a candidate with a path from the symptom to it.
"""

from __future__ import annotations

import itertools

import networkx as nx

from causal.case import Case


def orient(g: nx.DiGraph) -> tuple[nx.DiGraph, bool]:
    """The graph with caller -> callee edges, and whether it had to be reversed.

    A call graph has few entries (nodes nobody calls) and many leaves (stores, nodes that call nobody).
    A graph given with more entries than leaves was written callee -> caller (dependency direction) and is
    reversed; a chain (one of each) is taken as given.
    """
    linked = [n for n in g.nodes() if g.degree(n) > 0]
    sources = sum(1 for n in linked if g.in_degree(n) == 0)
    sinks = sum(1 for n in linked if g.out_degree(n) == 0)
    if sources > sinks:
        return g.reverse(copy=True), True
    return g, False


def component_graph(case: Case) -> nx.DiGraph | None:
    """The case's call graph over its components, or None when the case has none.

    A graph given over services is expanded to the components of each service; a graph written the other
    way round is reversed (`orient`). Nodes with no metrics stay in the graph (a cause can be one), and
    edges through them are also bridged so that components on either side count as adjacent.
    """
    if case.graph is None or case.graph.number_of_edges() == 0:
        return None
    raw, _ = orient(case.graph)
    comps = case.components
    members: dict[str, list[str]] = {}
    for c in comps:
        members.setdefault(c, []).append(c)
        if case.service(c) != c:
            members.setdefault(case.service(c), []).append(c)

    def targets(n: object) -> list[str]:
        name = str(n)
        if name in members:
            return members[name]
        if case.service(name) in members:
            return members[case.service(name)]
        return [name]  # a node with no metrics

    g = nx.DiGraph()
    g.add_nodes_from(comps)
    for a, b in raw.edges():
        for x, y in itertools.product(targets(a), targets(b)):
            if x != y:
                g.add_edge(x, y)
    # bridge through nodes that carry no metrics (e.g. a gateway or database without series)
    for n in list(g.nodes()):
        if n in members:
            continue
        ups = [p for p in g.predecessors(n) if p in members]
        downs = [s for s in g.successors(n) if s in members]
        for x, y in itertools.product(ups, downs):
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


def depths(g: nx.DiGraph | None) -> dict[str, int]:
    """Call depth of every node from the nearest entry (a node only its own service's components call);
    empty without a graph. One multi-source breadth-first search."""
    if g is None:
        return {}
    entries = [n for n in g.nodes if all(g.has_edge(n, p) for p in g.predecessors(n))]
    out: dict[str, int] = dict.fromkeys(entries, 0)
    frontier = list(entries)
    while frontier:
        nxt = []
        for n in frontier:
            for m in g.successors(n):
                if m not in out:
                    out[m] = out[n] + 1
                    nxt.append(m)
        frontier = nxt
    return out


def depth(g: nx.DiGraph | None, c: str) -> int:
    """Call depth from the nearest entry; 0 without a graph or when no entry reaches c."""
    return depths(g).get(c, 0)


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
