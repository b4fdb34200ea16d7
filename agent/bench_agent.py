"""`keel bench agent`: N concurrent conversations against a real server (uvicorn on 127.0.0.1, a free port).

Each conversation sends one request over the OpenAI-compatible streaming endpoint and reads it to
`[DONE]`; one that pauses on an approval is approved by a second principal and resumed. Reports
end-to-end latency percentiles of the turns, errors, and whether the audit chain verifies afterwards.

`run_sweep` runs several concurrency levels, each with the llama planner's batched decoding and with the
unbatched path (one call at a time) in the same process, and reads the model thread's token counters around
each run (`batch_decoder.DecodeStats`): tokens generated per second of wall time is what the thread sustained.
"""

from __future__ import annotations

import json
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from agent.planner.base import Planner
from config.settings import Settings, get_settings

REQUESTS = (
    "why is checkout slow?",
    "what is the p99 latency of checkout?",
    "show warnings in the payment logs",
    "scale checkout to 0",
    "restart cartservice",
)
OP_TOKEN, APPROVER_TOKEN = "bench-operator", "bench-approver"


@dataclass
class Turn:
    request: str
    latency_ms: float = 0.0
    steps: int = 0
    status: str = ""
    error: str = ""
    approval_ms: float | None = None


@dataclass
class BenchResult:
    turns: list[Turn] = field(default_factory=list)
    wall_s: float = 0.0
    audit: dict[str, Any] = field(default_factory=dict)

    def figures(self) -> dict[str, float]:
        lat = sorted(t.latency_ms for t in self.turns if not t.error)
        appr = [t.approval_ms for t in self.turns if t.approval_ms is not None]
        return {
            "conversations": float(len(self.turns)),
            "errors": float(sum(1 for t in self.turns if t.error)),
            "p50_ms": statistics.median(lat) if lat else float("nan"),
            "p95_ms": _pct(lat, 0.95),
            "max_ms": lat[-1] if lat else float("nan"),
            "approval_resume_p50_ms": statistics.median(appr) if appr else float("nan"),
            "steps_total": float(sum(t.steps for t in self.turns)),
            "audit_valid": 1.0 if self.audit.get("ok") else 0.0,
            "audit_records": float(self.audit.get("records", 0)),
            "wall_s": self.wall_s,
        }


def _pct(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[k]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _turn(url: str, request: str, cid: str) -> Turn:
    turn = Turn(request)
    body = {"model": "keel", "stream": True, "conversation_id": cid, "messages": [{"role": "user", "content": request}]}
    pending: list[str] = []
    t0 = time.perf_counter()
    try:
        with httpx.stream("POST", url + "/v1/chat/completions", json=body, timeout=600,
                          headers={"Authorization": f"Bearer {OP_TOKEN}"}) as r:
            if r.status_code != 200:
                r.read()
                turn.error = f"HTTP {r.status_code}: {r.text[:200]}"
                return turn
            done = False
            for line in r.iter_lines():
                if line == "data: [DONE]":
                    done = True
                elif line.startswith("data: "):
                    ev = (json.loads(line[6:]).get("keel") or {}).get("event") or {}
                    if ev.get("kind") == "step":
                        turn.steps += 1
                    elif ev.get("kind") == "approval":
                        pending.append(ev["data"]["approval_id"])
                    elif ev.get("kind") == "error":
                        turn.error = str(ev["data"].get("message"))
                    elif ev.get("kind") in ("answer", "paused"):
                        turn.status = ev["kind"]
            if not done:
                turn.error = turn.error or "stream ended without [DONE]"
        turn.latency_ms = (time.perf_counter() - t0) * 1000
        for aid in pending:
            t1 = time.perf_counter()
            r2 = httpx.post(f"{url}/api/approvals/{aid}/approve", json={"note": "bench"}, timeout=600,
                            headers={"Authorization": f"Bearer {APPROVER_TOKEN}"})
            if r2.status_code != 200:
                turn.error = f"approve HTTP {r2.status_code}: {r2.text[:200]}"
            turn.approval_ms = (time.perf_counter() - t1) * 1000
    except (httpx.HTTPError, ValueError) as e:
        turn.error = f"{type(e).__name__}: {e}"
    return turn


def run_bench(conversations: int = 20, *, settings: Settings | None = None, planner: Planner | None = None,
              scenario: Path | str | None = None, home: Path | None = None) -> BenchResult:
    """Start a server over a fresh KEEL_HOME, run `conversations` turns at once, stop it, verify the audit."""
    import uvicorn

    from agent.composition import build_service
    from agent.http.app import create_app

    home = home or Path(tempfile.mkdtemp(prefix="keel-bench-"))
    base = settings or get_settings()
    settings = base.model_copy(update={
        "home": home, "checkpoint_db": None, "audit_db": None, "database_url": "",
        "tokens": SecretStr(f"{OP_TOKEN}=operator,{APPROVER_TOKEN}=approver"),
        "queue_size": max(base.queue_size, conversations),
    })
    service = build_service(settings, scenario, planner=planner, live=True)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, service), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started:
        if time.time() > deadline or not thread.is_alive():
            raise RuntimeError("the benchmark server did not start")
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    result = BenchResult()
    try:
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=conversations) as pool:
            futures = [pool.submit(_turn, url, REQUESTS[i % len(REQUESTS)], f"bench-{i}") for i in range(conversations)]
            result.turns = [f.result() for f in futures]
        result.wall_s = time.perf_counter() - t0
        result.audit = service.gate.audit.verify().to_dict()
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        service.close()
    return result


@dataclass
class SweepRow:
    """One concurrency level on one decoding path: the bench figures and the model thread's work meanwhile."""

    mode: str  # "batched" | "unbatched" | the planner's name when it has no model thread
    conversations: int
    result: BenchResult
    decode: dict[str, float] = field(default_factory=dict)  # DecodeStats delta over the run

    def figures(self) -> dict[str, float]:
        f = self.result.figures()
        wall = f["wall_s"] or float("nan")
        gen = self.decode.get("generated_tokens", 0.0)
        busy = self.decode.get("decode_s", 0.0) + self.decode.get("call_s", 0.0)
        f.update({"generated_tokens": gen, "tokens_per_s": gen / wall if self.decode else float("nan"),
                  "model_busy_frac": busy / wall if self.decode else float("nan"),
                  "prompt_tokens": self.decode.get("prompt_tokens", 0.0),
                  "reused_tokens": self.decode.get("reused_tokens", 0.0),
                  "tokens_per_step": gen / self.decode["steps"] if self.decode.get("steps") else float("nan")})
        return f


def parse_levels(text: str) -> list[int]:
    """`"1,5,20"` -> [1, 5, 20]; raises ValueError naming the bad item (each 1..200)."""
    levels = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        if not item.isdigit() or not 1 <= int(item) <= 200:
            raise ValueError(f"--conversations: {item!r} is not a whole number from 1 to 200 (e.g. 1,5,20)")
        levels.append(int(item))
    if not levels:
        raise ValueError("--conversations: give at least one number, e.g. 20 or 1,5,20")
    return levels


def _stats(planner: Planner) -> dict[str, float]:
    read = getattr(planner, "decode_stats", None)
    return dict(read()) if callable(read) else {}


def run_sweep(levels: Sequence[int], planners: dict[str, Planner], *, settings: Settings | None = None,
              scenario: Path | str | None = None,
              on_row: Callable[[SweepRow], None] | None = None) -> list[SweepRow]:
    """For each level, one `run_bench` per planner (e.g. {"unbatched": p0, "batched": p1}), interleaved so both
    paths see the same machine; each row carries the model thread's counters over its run."""
    rows = []
    for n in levels:
        for mode, planner in planners.items():
            before = _stats(planner)
            res = run_bench(n, settings=settings, planner=planner, scenario=scenario)
            after = _stats(planner)
            delta = {k: after[k] - before.get(k, 0.0) for k in after if k != "max_batch_seqs"}
            row = SweepRow(mode, n, res, delta)
            rows.append(row)
            if on_row is not None:
                on_row(row)
    return rows
