"""Two `keel serve` processes on one PostgreSQL database (audit log, approvals, LangGraph checkpoints):
200 concurrent chat requests (100 restarts parked for approval, 100 scale actions), then both processes
race to approve every approval. One valid audit chain, each approval decided and run once, nothing lost."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from governance.postgres import PostgresApprovalStore, PostgresAuditStore, verify_postgres
from tests.backends.servers import ROOT, free_port, wait_until
from tests.shop import SPECS

pytestmark = pytest.mark.slow

TOKENS = {"op": "operator", "ap1": "approver", "ap2": "approver"}
SERVICES = [s for s in SPECS if s != "redis-cart"]  # redis-cart is protected: writes are blocked


@contextlib.contextmanager
def api_process(pg_url: str, home: Path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "KEEL_HOME": str(home), "KEEL_DATABASE_URL": pg_url, "KEEL_PLANNER": "keyword",
           "KEEL_TOKENS": ",".join(f"{t}={r}" for t, r in TOKENS.items()), "KEEL_QUEUE_SIZE": "512",
           "KEEL_POLICY": json.dumps({"rate_limit": {"max_writes": 100000}}), "KEEL_AUTONOMY": "3"}
    log = (home / "serve.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "agent.cli.main", "serve", "--port", str(port)], cwd=ROOT,
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"keel serve exited: {(home / 'serve.log').read_text()[-2000:]}")
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200

    try:
        wait_until(up, 90, "keel serve")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def chat(url: str, text: str) -> httpx.Response:
    return httpx.post(f"{url}/v1/chat/completions", timeout=120, headers={"Authorization": "Bearer op"},
                      json={"model": "keel", "messages": [{"role": "user", "content": text}]})


def test_two_api_processes_share_one_audit_chain(pg_url: str, tmp_path: Path) -> None:
    homes = [tmp_path / "a", tmp_path / "b"]
    for h in homes:
        h.mkdir()
    with api_process(pg_url, homes[0]) as a, api_process(pg_url, homes[1]) as b:
        urls = [a, b]
        requests = []
        for i in range(200):
            svc = SERVICES[i % len(SERVICES)]
            text = f"restart {svc}" if i % 2 == 0 else f"scale {svc} to {SPECS[svc].replicas + 1} replicas"
            requests.append((urls[i % 2], text))
        t0 = time.perf_counter()
        with ThreadPoolExecutor(32) as pool:
            replies = list(pool.map(lambda r: chat(*r), requests))
        t_chat = time.perf_counter() - t0
        assert [r.status_code for r in replies] == [200] * 200, [r.text for r in replies if r.status_code != 200][:2]
        pending = httpx.get(f"{a}/api/approvals", params={"status": "pending", "limit": 1000},
                            headers={"Authorization": "Bearer op"}, timeout=30).json()["approvals"]
        ids = [p["id"] for p in pending]
        assert len(ids) == 100 and {p["tool"] for p in pending} == {"restart_service"}

        def approve(job: tuple[str, str, str]) -> tuple[str, int]:
            url, token, aid = job
            r = httpx.post(f"{url}/api/approvals/{aid}/approve", headers={"Authorization": f"Bearer {token}"},
                           json={"note": "go"}, timeout=120)
            return aid, r.status_code

        jobs = [(urls[k], f"ap{k + 1}", aid) for aid in ids for k in (0, 1)]  # both replicas, each approval
        t1 = time.perf_counter()
        with ThreadPoolExecutor(32) as pool:
            results = list(pool.map(approve, jobs))
        t_approve = time.perf_counter() - t1
    codes = [c for _, c in results]
    assert set(codes) <= {200, 404, 409}, codes
    assert all(any(c == 200 for aid2, c in results if aid2 == aid) for aid in ids)

    report = verify_postgres(pg_url)
    assert report.ok, report.broken
    audit, approvals = PostgresAuditStore(pg_url), PostgresApprovalStore(pg_url)
    try:
        kinds: dict[str, int] = {}
        for rec in audit.records():
            kinds[rec.kind] = kinds.get(rec.kind, 0) + 1
        for aid in ids:
            ks = [r.kind for r in audit.records_for_action(aid)]
            assert ks.count("approval") == 1, ks  # decided once
            assert ks.count("action_started") == 1 and ks.count("action_result") == 1, ks  # run once
            a = approvals.get(aid)
            assert a is not None and a.status == "approved" and a.decided_by and a.result is not None
        scale_ok = sum(1 for r in audit.records() if r.kind == "action_result" and r.tool == "scale_service"
                       and r.data.get("status") == "ok")
        assert scale_ok == 100  # nothing lost
        assert kinds["request"] == 200 and kinds["action_started"] == 200 and kinds["action_result"] == 200
    finally:
        audit.close()
        approvals.close()
    print(f"\n200 chats over 2 API processes: {t_chat:.1f} s; 200 racing approvals: {t_approve:.1f} s "
          f"(HTTP {sorted(set(codes))}); {report.records} audit records, chain valid; kinds {kinds}")
