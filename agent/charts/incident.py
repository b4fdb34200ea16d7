"""What an investigation's charts show, taken from its tool results only (pure: step dicts in, dataclasses out).

- the symptom: every `query_metrics` series of the symptomatic service and metric, merged by time (a read after
  an action shows the after), with the onset the root-cause analysis found and the actions that ran;
- the root-cause ranking: the last successful `root_cause_analysis` (service, score), best first;
- the call graph: the last whole-graph `get_topology` result, with the culprit, the symptom and the evidence path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from tools.contract import WRITE_TOOLS


@dataclass(frozen=True)
class Marker:
    ts: str
    label: str
    kind: str  # onset | action


@dataclass
class SymptomSeries:
    service: str
    metric: str
    unit: str
    points: list[tuple[str, float]]
    markers: list[Marker] = field(default_factory=list)


@dataclass
class Ranking:
    symptom: str | None
    items: list[tuple[str, float]]  # (service, score), best first


@dataclass
class CallGraph:
    services: list[str]
    edges: list[tuple[str, str]]
    culprit: str | None = None
    symptom: str | None = None
    path: list[str] = field(default_factory=list)


@dataclass
class IncidentCharts:
    symptom: SymptomSeries | None = None
    ranking: Ranking | None = None
    graph: CallGraph | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def epoch(ts: str) -> float:
    """An ISO-8601 UTC timestamp (`2026-01-01T10:00:00Z`) as seconds."""
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(UTC).timestamp()


def _ok(step: Mapping[str, Any], tool: str) -> dict[str, Any] | None:
    res = step.get("result") or {}
    if step.get("tool") != tool or res.get("status") != "ok" or not isinstance(res.get("data"), dict):
        return None
    return dict(res["data"])


def _last_rca(steps: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    found = None
    for s in steps:
        data = _ok(s, "root_cause_analysis")
        if data is not None and data.get("ranking"):
            found = data
    return found


def ranking_of(steps: Sequence[Mapping[str, Any]]) -> Ranking | None:
    rca = _last_rca(steps)
    if rca is None:
        return None
    items = [(str(c["service"]), float(c.get("score") or 0.0)) for c in rca["ranking"] if c.get("service")]
    return Ranking(symptom=rca.get("symptom"), items=items)


def symptom_of(steps: Sequence[Mapping[str, Any]]) -> SymptomSeries | None:
    """The symptom's series: the RCA's symptom and metric when a read of them exists, else the first read."""
    reads = [(i, d) for i, d in ((i, _ok(s, "query_metrics")) for i, s in enumerate(steps))
             if d is not None and d.get("points")]
    if not reads:
        return None
    rca = _last_rca(steps)
    want = (rca.get("symptom"), rca.get("metric")) if rca else (None, None)
    chosen = [(i, d) for i, d in reads if (d.get("service"), d.get("metric")) == want]
    if not chosen:
        first = reads[0][1]
        chosen = [(i, d) for i, d in reads if (d.get("service"), d.get("metric")) ==
                  (first.get("service"), first.get("metric"))]
    merged: dict[str, float] = {}
    last_ts_before: dict[int, str] = {}  # step index -> the newest point seen by then
    newest = ""
    for i, d in chosen:
        for ts, v in d["points"]:
            merged[str(ts)] = float(v)
        newest = max(newest, str(d["points"][-1][0]))
        last_ts_before[i] = newest
    first = chosen[0][1]
    series = SymptomSeries(service=str(first.get("service")), metric=str(first.get("metric")),
                           unit=str(first.get("unit") or ""), points=sorted(merged.items(), key=lambda p: epoch(p[0])))
    if rca and rca.get("onset"):
        series.markers.append(Marker(str(rca["onset"]), "onset", "onset"))
    for i, s in enumerate(steps):
        res = s.get("result") or {}
        if s.get("tool") not in WRITE_TOOLS or res.get("status") != "ok":
            continue
        data: dict[str, Any] = res["data"] if isinstance(res.get("data"), dict) else {}
        at = next((str(v) for k, v in data.items() if k.endswith("_at") and isinstance(v, str)), None)
        if at is None:  # no time in the result: the newest point read before the action (it ran at or after it)
            before = [ts for j, ts in last_ts_before.items() if j < i]
            at = max(before) if before else None
        if at is not None:
            target = (s.get("args") or {}).get("service")
            series.markers.append(Marker(at, f"{s['tool']} {target}" if target else str(s["tool"]), "action"))
    return series


def graph_of(steps: Sequence[Mapping[str, Any]], topology: Mapping[str, Any] | None = None) -> CallGraph | None:
    """The call graph of the last whole-graph topology read (or `topology`, a get_topology result's data)."""
    data: Mapping[str, Any] | None = None
    for s in steps:
        d = _ok(s, "get_topology")
        if d is not None and "services" in d:
            data = d
    data = data or topology
    if not data or not data.get("services"):
        return None
    edges = [(str(e["caller"]), str(e["callee"])) for e in data.get("edges") or []]
    graph = CallGraph(services=[str(s) for s in data["services"]], edges=edges)
    rca = _last_rca(steps)
    if rca:
        top = rca["ranking"][0]
        graph.culprit, graph.symptom = str(top["service"]), rca.get("symptom")
        graph.path = [str(p) for p in top.get("path") or []]
    return graph


def incident_charts(steps: Sequence[Mapping[str, Any]], topology: Mapping[str, Any] | None = None) -> IncidentCharts:
    return IncidentCharts(symptom=symptom_of(steps), ranking=ranking_of(steps), graph=graph_of(steps, topology))


def needs_fresh_symptom(steps: Sequence[Mapping[str, Any]]) -> bool:
    """True when an action ran after the last read of the symptom (the chart would not show the after)."""
    series = symptom_of(steps)
    if series is None:
        return False
    last_read = max(i for i, s in enumerate(steps) if (_ok(s, "query_metrics") or {}).get("service") == series.service
                    and (_ok(s, "query_metrics") or {}).get("metric") == series.metric)
    return any(s.get("tool") in WRITE_TOOLS and (s.get("result") or {}).get("status") == "ok"
               for s in steps[last_read + 1:])
