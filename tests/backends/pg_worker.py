"""A worker process for the two-process PostgreSQL test: real Gate over the PostgreSQL stores.

`submit URL NAME N OUT`: N write requests from 8 threads, alternating a high-risk restart (parked for
approval) and a bounded scale (medium: runs at once with notification). `decide URL NAME IDS OUT`:
try to approve every approval id in IDS (another process races on the same ids), then run each approved
action. Outcomes go to OUT as JSON for the test to check against the database.
"""

from __future__ import annotations

import json
import random
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from governance.approvals import ApprovalError
from governance.gate import Gate, Principal
from governance.policy import load_policy
from governance.postgres import PostgresApprovalStore, PostgresAuditStore
from tests.shop import SPECS
from tools.backends.sim.scenario import Scenario
from tools.backends.sim_backend import sim_context

SERVICES = [s for s in SPECS if s != "redis-cart"]  # redis-cart is protected (blocked)
THREADS = 8


def gate_for(url: str) -> Gate:
    policy = load_policy(None, {"rate_limit": {"max_writes": 100_000}})
    return Gate(PostgresAuditStore(url, max_connections=THREADS), PostgresApprovalStore(url, max_connections=THREADS),
                policy, autonomy=3, notify=lambda event: None)


class LockedActions:
    """The simulator's write actions behind one lock: the simulator is not thread-safe, the stores are tested."""

    name = "sim"

    def __init__(self, target: Any) -> None:
        self.target, self.lock = target, threading.Lock()

    def scale(self, service: str, replicas: int) -> dict[str, Any]:
        with self.lock:
            return self.target.scale(service, replicas)

    def restart(self, service: str) -> dict[str, Any]:
        with self.lock:
            return self.target.restart(service)

    def rollback(self, service: str) -> dict[str, Any]:
        with self.lock:
            return self.target.rollback(service)


def context() -> Any:
    sim = Scenario(name="quiet").build()
    sim.run_until(5)
    ctx = sim_context(sim)
    ctx.actions = LockedActions(ctx.actions)
    return ctx


def submit(url: str, name: str, n: int, out: Path) -> None:
    gate, ctx = gate_for(url), context()
    me = Principal(name, "operator")

    def one(i: int) -> dict[str, Any]:
        svc = SERVICES[i % len(SERVICES)]
        if i % 2 == 0:
            r = gate.execute("restart_service", {"service": svc}, ctx, me, f"request {i}",
                             conversation_id=f"{name}-{i}")
            return {"i": i, "kind": "approval", "status": r.status, "id": (r.data or {}).get("approval_id")}
        target = SPECS[svc].replicas + (i // 2) % 2  # alternate default and default + 1: a bounded step
        r = gate.execute("scale_service", {"service": svc, "replicas": target}, ctx, me, f"request {i}",
                         conversation_id=f"{name}-{i}")
        return {"i": i, "kind": "action", "status": r.status, "error": r.error}

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(one, range(n)))
    out.write_text(json.dumps(results))


def decide(url: str, name: str, ids: list[str], out: Path) -> None:
    gate, ctx = gate_for(url), context()
    approver = Principal(name, "approver")
    order = ids[:]
    random.Random(name).shuffle(order)

    def approve(aid: str) -> dict[str, Any]:
        try:
            gate.approve(aid, approver, note="ok")
            return {"id": aid, "won": True}
        except ApprovalError as e:
            return {"id": aid, "won": False, "code": e.code}

    def run(aid: str) -> dict[str, Any]:
        r = gate.run_approved(aid, ctx)
        return {"id": aid, "status": r.status, "error": r.error}

    with ThreadPoolExecutor(THREADS) as pool:
        decisions = list(pool.map(approve, order))
        runs = list(pool.map(run, order))
    out.write_text(json.dumps({"decisions": decisions, "runs": runs}))


if __name__ == "__main__":
    cmd, url, name = sys.argv[1], sys.argv[2], sys.argv[3]
    if cmd == "submit":
        submit(url, name, int(sys.argv[4]), Path(sys.argv[5]))
    elif cmd == "decide":
        decide(url, name, json.loads(Path(sys.argv[4]).read_text()), Path(sys.argv[5]))
    else:
        raise SystemExit(f"unknown command {cmd!r}; allowed: submit, decide")
