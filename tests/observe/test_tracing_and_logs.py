"""OpenTelemetry spans of an agent turn (turn -> plan, govern -> act) through the SDK's in-memory exporter,
and JSON log lines carrying conversation, incident and audit ids."""

from __future__ import annotations

import http.server
import io
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.observe import tracing
from agent.observe.logs import configure_logging, log_context
from agent.observe.metrics import instrument
from governance.gate import Principal
from tests.agent.fakes import PAYMENT, ScriptedPlanner, make_service

OPERATOR, APPROVER = Principal("olga", "operator"), Principal("abe", "approver")


@pytest.fixture()
def spans() -> Iterator[object]:
    pytest.importorskip("opentelemetry.sdk", reason="opentelemetry-sdk (the dev / otel extra) is not installed")
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    assert tracing.configure(exporter=exporter)
    yield exporter
    tracing.shutdown()


def test_a_turn_is_a_trace_of_plan_govern_act(tmp_path: Path, spans) -> None:
    service, _ = make_service(tmp_path, ScriptedPlanner(), PAYMENT, step_limit=16)
    instrument(service)
    tracing.instrument(service)
    try:
        reply = service.ask("why is checkout slow?", OPERATOR, "c-trace")
        paused = service.ask("restart cartservice", OPERATOR, "c-trace-2")
        service.decide(paused.pending[0]["approval_id"], APPROVER, approve=True)
    finally:
        service.close()
    got = spans.get_finished_spans()
    turns = [s for s in got if s.name == "turn"]
    assert [t.attributes["keel.conversation_id"] for t in turns] == ["c-trace", "c-trace-2"]
    first = turns[0]
    mine = [s for s in got if s.context.trace_id == first.context.trace_id and s is not first]
    assert all(s.parent is not None for s in mine)
    by_id = {s.context.span_id: s for s in got}
    plans = [s for s in mine if s.name == "plan"]
    governs = [s for s in mine if s.name == "govern"]
    acts = [s for s in mine if s.name == "act"]
    assert len(plans) == len(reply.steps) + 1  # one plan per step, and the one that answered
    assert len(governs) == len(acts) == len(reply.steps)
    assert all(by_id[s.parent.span_id] is first for s in plans + governs)
    assert all(by_id[a.parent.span_id].name == "govern" for a in acts)
    assert governs[0].attributes["keel.tool"] == reply.steps[0]["tool"]
    assert governs[0].attributes["keel.oversight"] == "logging" and acts[0].attributes["keel.status"] == "ok"
    # the restart: governed (approval) in the first turn, acted on once approved
    second = [s for s in got if s.context.trace_id == turns[1].context.trace_id]
    gov = next(s for s in second if s.name == "govern")
    assert gov.attributes["keel.tool"] == "restart_service" and gov.attributes["keel.oversight"] == "approval"
    assert gov.attributes["keel.status"] == "pending_approval"
    assert not [s for s in second if s.name == "act"]
    approved = [s for s in got if s.name == "act" and s.attributes["keel.tool"] == "restart_service"]
    assert len(approved) == 1 and approved[0].attributes["keel.status"] == "ok"
    assert all("slow" not in str(v) for s in got for v in s.attributes.values())  # no request text in spans


def test_tracing_off_costs_no_spans_and_changes_nothing(tmp_path: Path) -> None:
    tracing.shutdown()
    service, _ = make_service(tmp_path, ScriptedPlanner(), PAYMENT)
    tracing.instrument(service)
    try:
        assert not tracing.enabled()
        reply = service.ask("why is checkout slow?", OPERATOR, "c-off")
        assert reply.status == "answered" and reply.steps
    finally:
        service.close()


def test_json_logs_carry_conversation_incident_and_audit_ids(tmp_path: Path) -> None:
    out = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure_logging("json", "INFO", stream=out)
    service, _ = make_service(tmp_path, ScriptedPlanner(), PAYMENT)
    instrument(service)
    tracing.instrument(service)
    try:
        with log_context(incident_id="inc-1"):
            service.ask("restart cartservice", OPERATOR, "c-logs")
    finally:
        service.close()
        for h in list(root.handlers):
            root.removeHandler(h)
        for h in saved[0]:
            root.addHandler(h)
        root.setLevel(saved[1])
    lines = [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]
    audit = [x for x in lines if x["logger"] == "keel.audit"]
    assert audit, lines
    decision = next(x for x in audit if "decision" in x["message"])
    assert decision["conversation_id"] == "c-logs" and decision["incident_id"] == "inc-1"
    assert decision["audit_id"].isdigit() and decision["level"] == "INFO" and "ts" in decision
    records = {str(r.seq): r for r in service.gate.audit.records()}
    assert records[decision["audit_id"]].kind == "decision" and records[decision["audit_id"]].tool == "restart_service"


def test_bad_log_format_is_refused() -> None:
    with pytest.raises(ValueError, match="allowed: text, json"):
        configure_logging("xml")  # type: ignore[arg-type]


def test_a_configured_otlp_endpoint_receives_the_spans(tmp_path: Path) -> None:
    pytest.importorskip("opentelemetry.exporter.otlp.proto.http", reason="the otel extra is not installed")
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    received: list[bytes] = []

    class Collector(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            received.append(self.rfile.read(int(self.headers["content-length"])))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *a: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    service, _ = make_service(tmp_path, ScriptedPlanner(), PAYMENT)
    instrument(service)
    tracing.instrument(service)
    try:
        assert tracing.configure(f"http://127.0.0.1:{server.server_address[1]}/v1/traces")
        service.ask("why is checkout slow?", OPERATOR, "c-otlp")
        tracing.shutdown()  # flushes the batch
    finally:
        service.close()
        server.shutdown()
    names = set()
    for body in received:
        req = ExportTraceServiceRequest.FromString(body)
        names |= {s.name for rs in req.resource_spans for ss in rs.scope_spans for s in ss.spans}
    assert {"turn", "plan", "govern", "act"} <= names, names
