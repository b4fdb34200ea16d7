"""Authorisation at the gate (every channel goes through it) and constant-time token comparison.

- a viewer cannot act (every write is blocked) and cannot approve or deny;
- an operator cannot approve or deny;
- nobody approves their own high-risk request; a critical request is blocked before any approval exists,
  so nobody at all can approve it;
- bearer tokens (and any other secret compare in the HTTP layer) use a constant-time comparison.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from agent.context import build_context
from agent.settings import Settings
from governance.approvals import ApprovalError, SqliteApprovalStore
from governance.audit import SqliteAuditStore
from governance.gate import Gate, Principal
from governance.policy import default_policy
from tests.shop import IDX

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "evals" / "scenarios" / "e2e" / "crash-cartservice.yaml"
VIEWER, OPERATOR = Principal("vera", "viewer"), Principal("otto", "operator")
ALICE, BOB = Principal("alice", "approver"), Principal("bob", "approver")
WRITES = [("restart_service", {"service": "cartservice"}), ("rollback_deployment", {"service": "frontend"}),
          ("scale_service", {"service": "checkoutservice", "replicas": 2}),
          ("run_runbook", {"name": "memory-leak", "service": "cartservice"})]


@pytest.fixture()
def world(tmp_path: Path):  # type: ignore[no-untyped-def]
    audit = SqliteAuditStore(tmp_path / "a.db", sync="normal")
    gate = Gate(audit, SqliteApprovalStore(tmp_path / "a.db"), default_policy(), autonomy=3)
    live = build_context(Settings(home=tmp_path), SCENARIO, live=False)
    yield gate, live.tools
    live.close()
    audit.close()


def _events(ctx) -> list:  # type: ignore[no-untyped-def]
    return [e for e in ctx.sim.events if e.kind in ("restart", "rollback", "scale")]


@pytest.mark.parametrize(("tool", "args"), WRITES)
def test_a_viewer_cannot_act(world, tool: str, args: dict) -> None:  # type: ignore[no-untyped-def]
    gate, ctx = world
    r = gate.execute(tool, args, ctx, VIEWER, "please")
    assert r.status == "denied" and "viewer" in (r.error or "")
    assert _events(ctx) == [] and gate.approvals.list("pending") == []
    # reads stay open to viewers
    assert gate.execute("query_metrics", {"service": "frontend", "metric": "cpu"}, ctx, VIEWER, "look").status == "ok"


@pytest.mark.parametrize("who", [VIEWER, OPERATOR])
@pytest.mark.parametrize("verb", ["approve", "deny"])
def test_viewers_and_operators_cannot_decide(world, who: Principal, verb: str) -> None:  # type: ignore[no-untyped-def]
    gate, ctx = world
    pending = gate.execute("restart_service", {"service": "cartservice"}, ctx, OPERATOR, "cart is down")
    assert pending.status == "pending_approval"
    aid = pending.data["approval_id"]
    with pytest.raises(ApprovalError) as e:
        getattr(gate, verb)(aid, who, "trust me")
    assert e.value.code == "forbidden"
    assert gate.approvals.get(aid).status == "pending"
    assert gate.run_approved(aid, ctx).status == "denied" and _events(ctx) == []


def test_nobody_approves_their_own_high_risk_request(world) -> None:  # type: ignore[no-untyped-def]
    gate, ctx = world
    pending = gate.execute("rollback_deployment", {"service": "cartservice"}, ctx, ALICE, "bad deploy")
    assert pending.status == "pending_approval" and pending.data["risk"] == "high"
    aid = pending.data["approval_id"]
    with pytest.raises(ApprovalError) as e:
        gate.approve(aid, ALICE, "mine")
    assert e.value.code == "self_approval"
    assert gate.run_approved(aid, ctx).status == "denied" and _events(ctx) == []
    gate.approve(aid, BOB, "second pair of eyes")
    assert gate.run_approved(aid, ctx).status == "ok"
    assert [(e.kind, e.service) for e in _events(ctx)] == [("rollback", "cartservice")]


@pytest.mark.parametrize(("tool", "args"), [
    ("scale_service", {"service": "frontend", "replicas": 0}),
    ("scale_service", {"service": "checkoutservice", "replicas": 50}),
    ("restart_service", {"service": "redis-cart"}),
])
@pytest.mark.parametrize("who", [OPERATOR, ALICE])
def test_critical_requests_are_blocked_before_any_approval_exists(world, tool, args, who) -> None:  # type: ignore[no-untyped-def]
    gate, ctx = world
    before = ctx.sim.replicas.copy()
    r = gate.execute(tool, args, ctx, who, "do it now")
    assert r.status == "denied" and r.data["risk"] == "critical" and r.data["oversight"] == "blocking"
    assert gate.approvals.list() == []  # nothing anyone could approve
    assert _events(ctx) == [] and (ctx.sim.replicas == before).all()
    assert ctx.sim.replicas[IDX["frontend"]] >= 1


# ---------------------------------------------------------------- constant-time comparison of secrets

COMPARE = {"compare_digest"}


def _compares_secret_with_eq(tree: ast.AST, names: set[str]) -> list[int]:
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(isinstance(o, ast.Name) and o.id in names for o in operands) and any(
                    isinstance(op, ast.Eq | ast.NotEq | ast.In | ast.NotIn) for op in node.ops):
                bad.append(node.lineno)
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Name) and node.slice.id in names:
            bad.append(node.lineno)  # tokens[token]: a dict lookup hashes and compares, not constant time
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" and any(
                isinstance(a, ast.Name) and a.id in names for a in node.args):
            bad.append(node.lineno)
    return bad


def test_bearer_tokens_are_compared_in_constant_time() -> None:
    src = (ROOT / "agent" / "http" / "auth.py").read_text()
    tree = ast.parse(src)
    fn = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "authenticate")
    calls = {n.func.attr for n in ast.walk(fn) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)}
    assert calls & COMPARE, "authenticate() must compare tokens with hmac/secrets.compare_digest"
    assert _compares_secret_with_eq(fn, {"token", "known"}) == []


def test_slack_signatures_are_compared_in_constant_time() -> None:
    import inspect

    from slack_sdk.signature import SignatureVerifier

    src = (ROOT / "agent" / "slack" / "verify.py").read_text()
    assert "self._sdk.is_valid(" in src and _compares_secret_with_eq(ast.parse(src), {"sig", "signature"}) == []
    assert "hmac.compare_digest" in inspect.getsource(SignatureVerifier.is_valid)


def test_the_ast_check_catches_a_plain_comparison() -> None:
    tree = ast.parse("def authenticate(token):\n    return token == 'x' or tokens[token] or tokens.get(token)\n")
    assert len(_compares_secret_with_eq(tree, {"token"})) == 3
