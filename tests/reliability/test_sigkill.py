"""SIGKILL `keel serve` while an approved action runs; restart it on the same data directory.

After the restart: the audit chain verifies, the interrupted action is listed as incomplete (started,
no result) and is not run a second time, and an approval that was pending before the crash is still
pending and can be decided, resuming its conversation from the checkpoint.

The server runs the shipped keyword planner; a test-only environment variable makes the simulator's
write actions take 30 real seconds so the kill lands mid-action.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from cli.bench_soak_cmd import free_port, start_server, stop_server, wait_ready
from tools.backends.sim_backend import ACTION_DELAY_ENV

TOKENS = {"viewer": "rel-viewer-token-01234", "operator": "rel-operator-token-0123",
          "approver": "rel-approver-tok-0123"}
SCENARIO_ENV = {"KEEL_SIM_TICK_S": "3600"}


def _h(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role]}"}


def _chat(base: str, text: str, cid: str) -> dict:
    r = httpx.post(f"{base}/v1/chat/completions", headers=_h("operator"), timeout=60,
                   json={"model": "keel", "messages": [{"role": "user", "content": text}], "conversation_id": cid})
    assert r.status_code == 200, r.text
    return r.json()["keel"]


@pytest.mark.slow
def test_sigkill_mid_action_then_restart(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_server(tmp_path, port, TOKENS, "keyword", None, tmp_path / "serve1.log",
                        {**SCENARIO_ENV, ACTION_DELAY_ENV: "30"})
    try:
        wait_ready(base, proc, 120, tmp_path / "serve1.log")
        a = _chat(base, "restart cartservice", "c-crash-a")
        b = _chat(base, "roll back paymentservice", "c-crash-b")
        assert a["status"] == b["status"] == "waiting_approval"
        running, waiting = a["pending"][0]["approval_id"], b["pending"][0]["approval_id"]

        def approve() -> None:  # blocks for the action's 30 s; the kill ends it
            try:
                httpx.post(f"{base}/api/approvals/{running}/approve", headers=_h("approver"), json={}, timeout=60)
            except httpx.HTTPError:
                pass

        t = threading.Thread(target=approve, daemon=True)
        t.start()
        deadline = time.monotonic() + 30
        started: list = []
        while not started and time.monotonic() < deadline:
            r = httpx.get(f"{base}/api/audit", headers=_h("viewer"), timeout=10,
                          params={"action_id": running, "kind": "action_started"})
            started = r.json()["records"] if r.status_code == 200 else []
            time.sleep(0.1)
        assert started, "the approved action never started"
        time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        t.join(timeout=10)
    finally:
        stop_server(proc)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_server(tmp_path, port, TOKENS, "keyword", None, tmp_path / "serve2.log", SCENARIO_ENV)
    try:
        wait_ready(base, proc, 120, tmp_path / "serve2.log")
        v = httpx.get(f"{base}/api/audit/verify", headers=_h("viewer"), timeout=30).json()
        assert v["ok"], v
        assert [i["action_id"] for i in v["incomplete"]] == [running]
        assert v["incomplete"][0]["tool"] == "restart_service"

        pending = httpx.get(f"{base}/api/approvals", headers=_h("viewer"), params={"status": "pending"}).json()
        assert [p["id"] for p in pending["approvals"]] == [waiting]

        r = httpx.post(f"{base}/api/approvals/{waiting}/approve", headers=_h("approver"), json={"note": "after"},
                       timeout=60)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["approval"]["status"] == "approved" and body["approval"]["result"]["status"] == "ok"
        assert body["reply"]["status"] == "answered"
        assert any(s["tool"] == "rollback_deployment" and s["result"]["status"] == "ok" for s in body["reply"]["steps"])

        # the interrupted action is neither re-decided nor re-run: not by approving again, not by a new turn
        approved = httpx.get(f"{base}/api/approvals", headers=_h("viewer"), params={"status": "approved"}).json()
        crashed = next(x for x in approved["approvals"] if x["id"] == running)
        assert crashed["claimed_at"] is not None and crashed["result"] is None
        again = httpx.post(f"{base}/api/approvals/{running}/approve", headers=_h("approver"), json={})
        assert again.status_code in (404, 409) and "approval" in again.json()["error"]["message"]
        follow = _chat(base, "what is going on with cartservice?", "c-crash-a")
        assert follow["status"] == "answered"
        v = httpx.get(f"{base}/api/audit/verify", headers=_h("viewer"), timeout=30).json()
        assert v["ok"] and [i["action_id"] for i in v["incomplete"]] == [running]

        def records(kind: str) -> list:
            return httpx.get(f"{base}/api/audit", headers=_h("viewer"),
                             params={"action_id": running, "kind": kind}).json()["records"]

        assert len(records("action_started")) == 1 and records("action_result") == []
    finally:
        stop_server(proc)
