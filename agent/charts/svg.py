"""Numbers -> SVG, server-side (pure; no JavaScript, no network): a time series with markers, a ranking as bars,
a call graph with the culprit highlighted.

Every drawn element carries the number it stands for (`data-value`, `data-ts`, `data-score`), and the series
chart states its scale (`data-y0`, `data-y1`, `data-t0`, `data-t1`), so a reader, or a test, can check the
picture against the tool's result. Colours are fixed; text is escaped.
"""

from __future__ import annotations

import math
from xml.sax.saxutils import escape, quoteattr

import networkx as nx

from agent.charts.incident import CallGraph, Ranking, SymptomSeries, epoch

INK, MUTE, LINE, ACCENT = "#1d2330", "#6b7280", "#e3e6eb", "#2456d6"
CULPRIT, SYMPTOM, ACTION, ONSET = "#dc2626", "#f59e0b", "#047857", "#b45309"
FONT = 'font-family="system-ui, sans-serif"'


def _num(v: float) -> str:
    return f"{v:.4g}" if abs(v) < 1 else f"{v:.1f}".rstrip("0").rstrip(".")


def nice_top(v: float) -> float:
    """The smallest 1/2/2.5/5 x 10^k at or above v (the y axis ends on a round number)."""
    if v <= 0:
        return 1.0
    k = 10 ** math.floor(math.log10(v))
    return next(m * k for m in (1, 2, 2.5, 5, 10) if m * k >= v)


def _hhmm(ts: str) -> str:
    return ts[11:16] if len(ts) >= 16 else ts


def series_svg(s: SymptomSeries, width: int = 640, height: int = 240) -> str:
    """The symptom's line over time, y from 0 to a round top, onset and action markers as labelled rules."""
    left, right, top, bottom = 54, 16, 30, 30
    t = [epoch(ts) for ts, _ in s.points]
    t0, t1 = t[0], (t[-1] if t[-1] > t[0] else t[0] + 60)
    y1 = nice_top(max(v for _, v in s.points) * 1.05)

    def x(ts: float) -> float:
        return left + (ts - t0) / (t1 - t0) * (width - left - right)

    def y(v: float) -> float:
        return top + (1 - v / y1) * (height - top - bottom)

    title = f"{s.service} {s.metric}" + (f" ({s.unit})" if s.unit else "")
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-series" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" role="img" aria-label={quoteattr(title)} '
           f'data-service={quoteattr(s.service)} data-metric={quoteattr(s.metric)} '
           f'data-y0="0" data-y1="{y1}" data-t0="{t0}" data-t1="{t1}" data-left="{left}" data-right="{right}" '
           f'data-top="{top}" data-bottom="{bottom}">',
           f'<text x="{left}" y="18" {FONT} font-size="13" font-weight="600" fill="{INK}">{escape(title)}</text>']
    for k in range(5):  # horizontal grid and y labels
        v = y1 * k / 4
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="{LINE}"/>')
        out.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end" {FONT} font-size="11" '
                   f'fill="{MUTE}">{_num(v)}</text>')
    for frac in (0, 0.5, 1):  # time labels
        at = t0 + frac * (t1 - t0)
        label = next((p for p, e in zip(s.points, t, strict=True) if e >= at), s.points[-1])[0]
        out.append(f'<text x="{x(at):.1f}" y="{height - 10}" text-anchor="middle" {FONT} font-size="11" '
                   f'fill="{MUTE}">{escape(_hhmm(label))}</text>')
    for m in s.markers:
        try:
            mx = x(min(max(epoch(m.ts), t0), t1))
        except ValueError:
            continue
        colour = ONSET if m.kind == "onset" else ACTION
        flip = mx + 7 * len(m.label) > width - right  # a label that would run off the right goes left of its rule
        out.append(f'<g class="marker marker-{m.kind}" data-ts={quoteattr(m.ts)} data-label={quoteattr(m.label)}>'
                   f'<line x1="{mx:.1f}" x2="{mx:.1f}" y1="{top}" y2="{height - bottom}" stroke="{colour}" '
                   f'stroke-width="1.5" stroke-dasharray="4 3"/>'
                   f'<text x="{mx + (-4 if flip else 4):.1f}" y="{top + 12 + (14 if m.kind == "action" else 0)}" '
                   f'text-anchor="{"end" if flip else "start"}" {FONT} font-size="11" '
                   f'fill="{colour}">{escape(m.label)}</text></g>')
    pts = " ".join(f"{x(e):.1f},{y(v):.1f}" for e, (_, v) in zip(t, s.points, strict=True))
    out.append(f'<polyline class="series" fill="none" stroke="{ACCENT}" stroke-width="2" points="{pts}"/>')
    for e, (ts, v) in zip(t, s.points, strict=True):
        out.append(f'<circle class="point" cx="{x(e):.1f}" cy="{y(v):.1f}" r="2.2" fill="{ACCENT}" '
                   f'data-ts={quoteattr(ts)} data-value="{v}"><title>{escape(_hhmm(ts))} {_num(v)}</title></circle>')
    out.append("</svg>")
    return "".join(out)


def ranking_svg(r: Ranking, width: int = 640, bar_h: int = 22) -> str:
    """Candidates as horizontal bars, length proportional to score, the top one in the culprit colour."""
    items = r.items[:8]
    left, right, top = 170, 60, 30
    height = top + len(items) * (bar_h + 6) + 8
    hi = max((sc for _, sc in items), default=1.0) or 1.0
    span = width - left - right
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-ranking" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" role="img" aria-label="root-cause ranking" data-max="{hi}" '
           f'data-span="{span}">',
           f'<text x="8" y="18" {FONT} font-size="13" font-weight="600" fill="{INK}">root-cause ranking'
           + (f" for {escape(r.symptom)}" if r.symptom else "") + "</text>"]
    for k, (svc, sc) in enumerate(items):
        yy = top + k * (bar_h + 6)
        w = max(0.0, sc / hi * span)
        colour = CULPRIT if k == 0 else "#93a4c8"
        out.append(f'<g class="bar" data-service={quoteattr(svc)} data-score="{sc}" data-rank="{k + 1}">'
                   f'<text x="{left - 8}" y="{yy + bar_h / 2 + 4:.1f}" text-anchor="end" {FONT} font-size="12" '
                   f'fill="{INK}">{escape(svc)}</text>'
                   f'<rect x="{left}" y="{yy}" width="{w:.2f}" height="{bar_h}" rx="3" fill="{colour}"/>'
                   f'<text x="{left + w + 6:.1f}" y="{yy + bar_h / 2 + 4:.1f}" {FONT} font-size="11" '
                   f'fill="{MUTE}">{_num(sc)}</text></g>')
    out.append("</svg>")
    return "".join(out)


def layers(g: CallGraph) -> list[list[str]]:
    """Services in call depth order: callers left of callees (cycles broken by first visit)."""
    graph = nx.DiGraph()
    graph.add_nodes_from(g.services)
    graph.add_edges_from(g.edges)
    dag = nx.DiGraph()
    dag.add_nodes_from(graph.nodes)
    for u, v in nx.edge_dfs(graph):  # drop the edges that close a cycle
        dag.add_edge(u, v)
        if not nx.is_directed_acyclic_graph(dag):
            dag.remove_edge(u, v)
    depth: dict[str, int] = {}
    for n in nx.topological_sort(dag):
        depth[n] = max((depth[p] + 1 for p in dag.predecessors(n)), default=0)
    out: list[list[str]] = [[] for _ in range(max(depth.values(), default=0) + 1)]
    for n in g.services:
        out[depth[n]].append(n)
    return [sorted(col) for col in out]


def graph_svg(g: CallGraph, width: int = 640) -> str:
    """The call graph left to right by call depth; the culprit red, the symptom amber, the evidence path bold."""
    cols = layers(g)
    box_w, box_h, gap_y, top = 124, 26, 12, 30
    rows = max(len(c) for c in cols)
    height = top + rows * (box_h + gap_y) + 10
    step_x = (width - box_w - 16) / max(1, len(cols) - 1)
    pos: dict[str, tuple[float, float]] = {}
    for i, col in enumerate(cols):
        off = (rows - len(col)) * (box_h + gap_y) / 2
        for j, n in enumerate(col):
            pos[n] = (8 + i * step_x, top + off + j * (box_h + gap_y))
    on_path = set(zip(g.path, g.path[1:], strict=False)) | set(zip(g.path[1:], g.path, strict=False))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-graph" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" role="img" aria-label="call graph" '
           f'data-culprit={quoteattr(g.culprit or "")}>',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" '
           f'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="{MUTE}"/></marker></defs>',
           f'<text x="8" y="18" {FONT} font-size="13" font-weight="600" fill="{INK}">call graph</text>']
    for u, v in g.edges:
        (x1, y1), (x2, y2) = pos[u], pos[v]
        bold = (u, v) in on_path
        out.append(f'<line class="edge{" on-path" if bold else ""}" data-caller={quoteattr(u)} '
                   f'data-callee={quoteattr(v)} x1="{x1 + box_w:.1f}" y1="{y1 + box_h / 2:.1f}" x2="{x2:.1f}" '
                   f'y2="{y2 + box_h / 2:.1f}" stroke="{CULPRIT if bold else "#b8c0cc"}" '
                   f'stroke-width="{2 if bold else 1}" marker-end="url(#arrow)"/>')
    for n, (nx_, ny) in pos.items():
        role = "culprit" if n == g.culprit else "symptom" if n == g.symptom else "service"
        fill = {"culprit": "#fee2e2", "symptom": "#fef3c7"}.get(role, "#fff")
        stroke = {"culprit": CULPRIT, "symptom": SYMPTOM}.get(role, "#9ca3af")
        label = n if len(n) <= 18 else n[:17] + "…"
        out.append(f'<g class="node {role}" data-service={quoteattr(n)}><rect x="{nx_:.1f}" y="{ny:.1f}" '
                   f'width="{box_w}" height="{box_h}" rx="5" fill="{fill}" stroke="{stroke}" '
                   f'stroke-width="{2.5 if role != "service" else 1}"/><text x="{nx_ + box_w / 2:.1f}" '
                   f'y="{ny + box_h / 2 + 4:.1f}" text-anchor="middle" {FONT} font-size="11.5" '
                   f'fill="{INK}">{escape(label)}</text><title>{escape(n)} ({role})</title></g>')
    out.append("</svg>")
    return "".join(out)
