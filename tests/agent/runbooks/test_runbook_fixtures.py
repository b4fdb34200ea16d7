"""Shared helpers for the runbook, summary and Slack tests: a real gate over temp SQLite stores, a simulator
context, and an HTTP receiver on 127.0.0.1 standing in for Slack's webhook / response_url endpoints."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from agent.context import sim_tools
from agent.runbooks.engine import RunbookEngine
from agent.runbooks.store import RunRecord, RunStore
from governance.approvals import SqliteApprovalStore
from governance.audit import SqliteAuditStore
from governance.gate import Gate, Principal
from governance.policy import load_policy
from tools.backends.base import ToolContext
from tools.backends.sim.cluster import Simulator
from tools.backends.sim.faults import Fault
from tools.backends.sim.load import LoadCurve

ALICE = Principal("alice", "operator")
BOB = Principal("bob", "approver")


def make_gate(home: Path, autonomy: int = 3) -> Gate:
    db = home / "audit.db"
    return Gate(SqliteAuditStore(db), SqliteApprovalStore(db), load_policy(), autonomy)


def make_engine(home: Path, gate: Gate | None = None) -> RunbookEngine:
    return RunbookEngine(gate or make_gate(home), RunStore(home / "runbooks.db"))


def sim_at(minute: int, *faults: Fault, seed: int = 7, peak_rps: float = 400.0) -> tuple[Simulator, ToolContext]:
    sim = Simulator(LoadCurve.diurnal(peak_rps, seed=seed), list(faults), seed=seed)
    sim.run_until(minute)
    return sim, sim_tools(sim)


def approve_through(engine: RunbookEngine, run: RunRecord, ctx: ToolContext, approver: Principal = BOB,
                    limit: int = 10) -> RunRecord:
    """Approve every approval the run pauses on (as a second person) and resume it, until it finishes."""
    for _ in range(limit):
        if run.status != "paused":
            return run
        assert run.pending is not None and run.pending.approval_id
        engine.gate.approve(run.pending.approval_id, approver, "go ahead")
        run = engine.resume(run.id, ctx)
    raise AssertionError(f"run {run.id} still paused after {limit} approvals")


@dataclass
class Receiver:
    """A tiny HTTP server recording POSTs; `responses` are served in order, then 200 "ok"."""

    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    responses: list[tuple[int, dict[str, str], str]] = field(default_factory=list)
    event: threading.Event = field(default_factory=threading.Event)

    def json_bodies(self) -> list[Any]:
        return [json.loads(r["body"]) for r in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            n = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(n).decode()
            rec.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            status, headers, text = rec.responses.pop(0) if rec.responses else (200, {}, "ok")
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            if "content-type" not in {k.lower() for k in headers}:
                self.send_header("content-type", "text/plain")
            self.end_headers()
            self.wfile.write(text.encode())
            rec.event.set()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    rec.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()
