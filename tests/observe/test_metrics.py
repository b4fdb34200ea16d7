"""`/metrics`: every series the server promises exists, moves when the thing it counts happens, and keeps
its labels to closed sets; auth is a viewer token or the scrape token."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from agent.http.app import create_app
from agent.planner.base import PlannedCall
from tests.agent.fakes import PAYMENT, ScriptedPlanner, make_service
from tests.alerts.payloads import alert, webhook

TOKENS = "op-token=operator,view-token=viewer,appr-token=approver"
OP, VIEW, APPR = ({"Authorization": f"Bearer {t}"} for t in ("op-token", "view-token", "appr-token"))
SERIES = ("keel_http_requests_total", "keel_http_request_duration_seconds_count", "keel_planner_calls_total",
          "keel_planner_latency_seconds_count", "keel_planner_fallbacks_total", "keel_tool_calls_total",
          "keel_decisions_total", "keel_approvals_pending", "keel_approvals_decided_total",
          "keel_audit_appends_total", "keel_queue_depth", "keel_incidents_open", "keel_incidents_opened_total",
          "keel_alerts_received_total")


def scrape(c: TestClient, headers: dict[str, str] = VIEW) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = c.get("/metrics", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    out = {}
    for fam in text_string_to_metric_families(r.text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def total(m: dict, name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in m.items() if n == name and all((k, v2) in ls for k, v2 in labels.items()))


def chat(c: TestClient, text: str, headers: dict[str, str] = OP) -> dict:
    r = c.post("/v1/chat/completions", json={"model": "keel", "messages": [{"role": "user", "content": text}]},
               headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_every_series_exists_and_moves(tmp_path: Path) -> None:
    constrained = PlannedCall("query_metrics", {"service": "checkoutservice", "metric": "latency_p99",
                                                "window": "30m"}, "q", True, 1.0, True)
    planner = ScriptedPlanner(delay_s=0.0)
    service, settings = make_service(tmp_path, planner, PAYMENT, tokens=TOKENS)
    with TestClient(create_app(settings, service)) as c:
        before = scrape(c)
        chat(c, "why is checkout slow?")  # reads: logging oversight, tool calls ok
        reply = chat(c, "restart cartservice")  # high risk: waits for approval
        aid = reply["keel"]["pending"][0]["approval_id"]
        mid = scrape(c)
        assert total(mid, "keel_approvals_pending") == total(before, "keel_approvals_pending") + 1
        assert c.post(f"/api/approvals/{aid}/approve", headers=APPR).status_code == 200
        planner.script = [constrained]  # a call that needed the grammar fallback
        chat(c, "anything")
        planner.script = None
        assert c.post("/api/alerts/alertmanager", json=webhook("g", [alert("f", {"service": "frontend"})]),
                      headers=OP).status_code == 202
        assert c.app.state.alerts.drain(30)
        # queue depth: a slow turn in flight is seen by a concurrent scrape
        planner.delay_s = 1.0
        t = threading.Thread(target=chat, args=(c, "why is checkout slow?"))
        t.start()
        time.sleep(0.3)
        during = scrape(c)
        t.join()
        after = scrape(c)

    names = {n for n, _ in after}
    assert set(SERIES) <= names, sorted(set(SERIES) - names)
    moved = lambda name, **ls: total(after, name, **ls) > total(before, name, **ls)  # noqa: E731
    assert moved("keel_http_requests_total", route="/v1/chat/completions", method="POST", status="2xx")
    assert moved("keel_http_request_duration_seconds_count", route="/api/approvals/{approval_id}/approve")
    assert moved("keel_planner_calls_total", outcome="ok") and moved("keel_planner_latency_seconds_count")
    assert moved("keel_planner_fallbacks_total")
    assert moved("keel_tool_calls_total", tool="query_metrics", status="ok")
    assert moved("keel_tool_calls_total", tool="restart_service", status="ok")  # ran once approved
    assert moved("keel_decisions_total", oversight="logging") and moved("keel_decisions_total", oversight="approval")
    assert moved("keel_approvals_decided_total", decision="approved")
    assert total(after, "keel_approvals_pending") == total(before, "keel_approvals_pending")
    assert moved("keel_audit_appends_total", kind="action_started") and moved("keel_audit_appends_total",
                                                                              kind="request")
    assert moved("keel_alerts_received_total", status="firing") and moved("keel_incidents_opened_total")
    assert total(after, "keel_incidents_open") == 1
    assert total(during, "keel_queue_depth") == 1 and total(after, "keel_queue_depth") == 0
    # low cardinality: no label carries a conversation id, an approval id or request text
    for _, ls in after:
        for k, v in ls:
            assert not v.startswith("c-") and aid not in v and "slow" not in v, (k, v)


def test_metrics_need_a_viewer_or_the_scrape_token(tmp_path: Path) -> None:
    service, settings = make_service(tmp_path, ScriptedPlanner(), PAYMENT, tokens=TOKENS)
    settings = settings.model_copy(update={"metrics_token": SecretStr("scrape-only")})
    with TestClient(create_app(settings, service)) as c:
        assert c.get("/metrics").status_code == 401
        assert c.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
        assert "keel_http_requests_total" in c.get("/metrics", headers=VIEW).text
        assert "keel_queue_depth" in c.get("/metrics", headers={"Authorization": "Bearer scrape-only"}).text
        # the scrape token opens nothing else
        assert c.get("/api/audit", headers={"Authorization": "Bearer scrape-only"}).status_code == 401
