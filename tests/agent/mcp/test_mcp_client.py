"""External MCP servers as keel tools (`[[mcp_servers]]`): a small FastMCP server started by the test, over stdio
and streamable HTTP. Reads run through the gate and come back as untrusted text; a tool the operator marks
`write` is high risk (pending approval at autonomy 3) and runs only once approved; runbooks may use them."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from agent.mcp.client import McpToolbox, attach
from agent.runbooks.model import StepSpec
from config.settings import McpServerSettings, Settings
from governance.gate import Principal
from tests.agent.fakes import ScriptedPlanner, make_service
from tests.agent.mcp.fixture_server import INJECTION

FIXTURE = Path(__file__).with_name("fixture_server.py")
OPERATOR = Principal("operator-alice", "operator")
APPROVER = Principal("approver-bob", "approver")


def _stdio() -> McpServerSettings:
    return McpServerSettings(name="deploys", command=sys.executable, args=[str(FIXTURE), "stdio"], write=["annotate"])


@pytest.fixture(scope="module")
def http_fixture() -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, str(FIXTURE), "http", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise RuntimeError("the fixture MCP server did not start") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_settings_reject_a_bad_server_entry() -> None:
    with pytest.raises(ValidationError, match="exactly one of command"):
        McpServerSettings(name="x")
    with pytest.raises(ValidationError, match="http:// or https://"):
        McpServerSettings(name="x", url="ftp://host/mcp")
    with pytest.raises(ValidationError, match="repeated: a"):
        Settings(mcp_servers=[{"name": "a", "command": "x"}, {"name": "a", "url": "http://h/mcp"}])


def test_keel_toml_mcp_servers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "keel.toml").write_text(
        '[[mcp_servers]]\nname = "grafana"\ncommand = "mcp-grafana"\nargs = ["--read-only"]\n\n'
        '[[mcp_servers]]\nname = "deploys"\nurl = "http://127.0.0.1:9000/mcp"\nwrite = ["annotate"]\n')
    monkeypatch.chdir(tmp_path)
    servers = Settings().mcp_servers
    assert [(s.name, s.command, s.url, s.write) for s in servers] == [
        ("grafana", "mcp-grafana", "", []), ("deploys", "", "http://127.0.0.1:9000/mcp", ["annotate"])]


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_external_tools_through_the_gate(tmp_path: Path, transport: str, request: pytest.FixtureRequest) -> None:
    server = _stdio() if transport == "stdio" else McpServerSettings(
        name="deploys", url=request.getfixturevalue("http_fixture"), write=["annotate"])
    service, _ = make_service(tmp_path, ScriptedPlanner())
    try:
        box = attach(service.live.tools, [server])
        assert box is not None and box.problems == {}
        tools = {t.name: t for t in box.tools()}
        assert set(tools) == {"deploys.deploy_notes", "deploys.annotate"}
        assert tools["deploys.deploy_notes"].kind == "read" and tools["deploys.annotate"].kind == "write"
        ctx, gate = service.live.tools, service.gate

        read = gate.execute("deploys.deploy_notes", {"service": "cartservice"}, ctx, OPERATOR, "check deploys")
        assert read.status == "ok", read
        assert read.data["untrusted"] is True and "pool size 32 -> 4" in read.data["text"]
        assert INJECTION in read.data["text"]  # carried as data for people to read ...
        assert read.observation("deploys.deploy_notes") == "ok"  # ... while the planner sees only the status
        assert not [e for e in service.live.tools.sim.events if e.kind == "restart"]  # and nothing ran

        bad = gate.execute("deploys.deploy_notes", {"svc": 1}, ctx, OPERATOR, "bad args")
        assert bad.status == "error" and bad.code == "invalid_args" and "service" in (bad.error or "")

        write = gate.execute("deploys.annotate", {"text": "rolled back cartservice"}, ctx, OPERATOR, "note it")
        assert write.status == "pending_approval", write
        pending = write.pending()
        assert pending is not None and pending.risk == "high" and pending.oversight == "approval"
        gate.approve(pending.approval_id, APPROVER)
        done = gate.run_approved(pending.approval_id, ctx)
        assert done.status == "ok" and done.data["text"] == "annotation 1 added"
        kinds = [r.kind for r in gate.audit.records_for_action(pending.approval_id)]
        assert kinds[:2] == ["proposal", "decision"] and kinds[-2:] == ["action_started", "action_result"]

        viewer = gate.execute("deploys.annotate", {"text": "x"}, ctx, Principal("viewer-v", "viewer"), "x")
        assert viewer.status == "denied"
    finally:
        service.close()


def test_server_that_does_not_start_is_reported_not_fatal() -> None:
    box = McpToolbox([McpServerSettings(name="gone", command=sys.executable, args=["-c", "import sys; sys.exit(3)"],
                                        timeout_s=20)]).discover()
    assert box.tools() == [] and "gone" in box.problems


def test_runbook_steps_may_name_external_tools() -> None:
    assert StepSpec(id="notes", tool="deploys.deploy_notes", args={"service": "{{ params.service }}"}).tool
    with pytest.raises(ValidationError, match="server.tool of an MCP server"):
        StepSpec(id="x", tool="deploy_notes")


def test_agent_turn_and_runbook_use_an_external_tool(tmp_path: Path) -> None:
    """Configured through the settings (as keel.toml does): the agent's call and a runbook step both reach the
    server through the gate; the runbook's write-marked step waits for approval."""
    from agent.composition import build_service
    from agent.context import build_context
    from agent.runbooks.engine import RunbookEngine
    from agent.runbooks.model import Library
    from agent.runbooks.store import RunStore
    from tests.agent.fakes import PAYMENT, call

    settings = Settings(home=tmp_path, sim_tick_s=3600.0, mcp_servers=[_stdio()])
    planner = ScriptedPlanner([call("deploys.deploy_notes", {"service": "paymentservice"})])
    service = build_service(settings, planner=planner, context=build_context(settings, PAYMENT, live=False))
    try:
        reply = service.ask("what changed on payments?", OPERATOR)
        step = reply.steps[0]
        assert step["tool"] == "deploys.deploy_notes" and step["oversight"] == "logging"
        assert step["result"]["status"] == "ok" and "pool size 32 -> 4" in step["result"]["data"]["text"]
        assert [s["tool"] for s in reply.steps] == ["deploys.deploy_notes"]  # the injected line ran nothing

        books = tmp_path / "books"
        books.mkdir()
        (books / "notes.yaml").write_text(
            "name: deploy-notes\ndescription: read the deploy notes, then annotate the dashboard\n"
            "parameters:\n  service: {type: service, required: true}\n"
            "steps:\n  - id: notes\n    tool: deploys.deploy_notes\n    args: {service: '{{ params.service }}'}\n"
            "  - id: note\n    tool: deploys.annotate\n    args: {text: 'looked at {{ params.service }}'}\n")
        engine = RunbookEngine(service.gate, RunStore(tmp_path / "rb.db"), Library([books]))
        run = engine.start("deploy-notes", {"service": "payment"}, OPERATOR, service.live.tools)
        assert [(s.id, s.status) for s in run.steps] == [("notes", "ok"), ("note", "pending_approval")]
        assert run.status == "paused"
    finally:
        service.close()
