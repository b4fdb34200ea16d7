"""`keel bench soak`: start `keel serve` on 127.0.0.1, drive simulated users for a bounded time, report.

Figures: requests, errors, server RSS at start (after warm-up) and end, growth %, audit chain validity.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import typer
from rich.table import Table

from cli.common import console, fail, write_json

GROWTH_TARGET_PCT = 10.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(home: Path, port: int, tokens: dict[str, str], planner: str | None, tick: float | None,
                 log: Path, extra_env: dict[str, str] | None = None,
                 adapter: str | None = None) -> subprocess.Popen[bytes]:
    """`keel serve` in its own process group, its output in `log`."""
    env = {**os.environ, "KEEL_HOME": str(home), "KEEL_TOKENS": ",".join(f"{t}={r}" for r, t in tokens.items()),
           **(extra_env or {})}
    if planner:
        env["KEEL_PLANNER"] = planner
    if adapter:
        env["KEEL_PLANNER_ADAPTER"] = adapter
    cmd = [sys.executable, "-m", "cli.main", "serve", "--host", "127.0.0.1", "--port", str(port)]
    if tick is not None:
        cmd += ["--tick", str(tick)]
    out = log.open("wb")
    return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout_s: float, log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"keel serve exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"keel serve did not answer /healthz within {timeout_s:.0f}s: {log.read_text()[-2000:]}")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def save_metrics(base: str, token: str, path: Path) -> None:
    """GET /metrics with a viewer token into `path`; print how many keel_ series it holds."""
    text = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=30).text
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    names = sorted({line.split("{")[0].split(" ")[0] for line in text.splitlines()
                    if line.startswith("keel_") and not line.startswith("#")})
    console.print(f"/metrics after the soak: {len(names)} keel_ series -> {path}")


def soak(
    minutes: float = typer.Option(10.0, min=0.05, help="how long to drive the server"),
    users: int = typer.Option(10, min=2, max=200, help="concurrent simulated users"),
    warmup: float = typer.Option(30.0, min=0, help="seconds before the start RSS is taken (capped at 1/5 of the run)"),
    planner: str | None = typer.Option(None, help="planner backend for the server (KEEL_PLANNER)"),
    adapter: str | None = typer.Option(None, help="planner adapter for the server (KEEL_PLANNER_ADAPTER; none: base)"),
    tick: float | None = typer.Option(None, min=0.01, help="real seconds per simulated minute on the server"),
    home: Path | None = typer.Option(None, help="KEEL_HOME for the server (default: a fresh temporary directory)"),
    ready_timeout: float = typer.Option(300.0, min=1, help="seconds to wait for the server to come up"),
    seed: int = typer.Option(0, help="seed of the users' choices"),
    json_path: Path | None = typer.Option(None, "--json", help="write {bench, figures} to this path"),
    metrics_path: Path | None = typer.Option(None, "--metrics", help="save the server's /metrics (scraped after the "
                                             "soak, before it stops) to this path"),
) -> None:
    """A bounded soak on 127.0.0.1: errors, memory growth (target < 10%) and the audit chain afterwards."""
    from evals.soak import run_soak
    from governance.audit import verify_sqlite

    tokens = {r: secrets.token_urlsafe(16) for r in ("viewer", "operator", "approver")}
    with tempfile.TemporaryDirectory(prefix="keel-soak-") as tmp:
        where = home or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        port, log = free_port(), where / "serve.log"
        base = f"http://127.0.0.1:{port}"
        proc = start_server(where, port, tokens, planner, tick, log, adapter=adapter)
        try:
            try:
                wait_ready(base, proc, ready_timeout, log)
            except RuntimeError as e:
                fail(str(e), code=1)
            seconds = minutes * 60
            console.print(f"soak: {users} users for {seconds:.0f}s against {base} (server pid {proc.pid}, "
                          f"planner {httpx.get(base + '/healthz').json().get('planner')})")

            def tick_line(elapsed: float, mb: float, tally: object) -> None:
                if int(elapsed) % 60 < 5:
                    console.print(f"[dim]{elapsed:6.0f}s  rss {mb:7.1f} MB  ok {tally.ok}  "  # type: ignore[attr-defined]
                                  f"errors {sum(tally.errors.values())}[/]")  # type: ignore[attr-defined]

            r = run_soak(base, proc.pid, tokens, users, seconds, min(warmup, seconds / 5), seed=seed,
                         on_sample=tick_line)
            if metrics_path is not None:
                save_metrics(base, tokens["viewer"], metrics_path)
        finally:
            stop_server(proc)
        offline = verify_sqlite(where / "audit.db") if (where / "audit.db").exists() else None
    table = Table("figure", "value", "target", title="keel bench soak")
    rows = [
        ("users", f"{r.users}", ""), ("seconds", f"{r.seconds:.0f}", ""), ("requests", f"{r.requests}", ""),
        ("errors", f"{r.errors}", "0"), ("rss_start_mb (after warm-up)", f"{r.rss_start_mb:.1f}", ""),
        ("rss_end_mb", f"{r.rss_end_mb:.1f}", ""), ("rss_peak_mb", f"{r.rss_peak_mb:.1f}", ""),
        ("rss_growth_pct", f"{r.rss_growth_pct:.2f}", f"< {GROWTH_TARGET_PCT:g}"),
        ("rss growth over the second half %", f"{r.rss_growth_second_half_pct:.2f}", ""),
        ("audit chain valid (HTTP)", str(r.chain_valid), "True"),
        ("audit chain valid (file, after stop)", str(offline.ok) if offline else "no audit.db", "True"),
        ("audit records", f"{r.audit_records}", ""), ("approved / denied", f"{r.approved} / {r.denied}", ""),
    ]
    for k in sorted(r.p50_ms):
        rows.append((f"{k} p50 / p95 ms", f"{r.p50_ms[k]:.0f} / {r.p95_ms[k]:.0f}", ""))
    for row in rows:
        table.add_row(*row)
    console.print(table)
    if r.error_kinds:
        console.print("errors by kind: " + ", ".join(f"{k}: {n}" for k, n in sorted(r.error_kinds.items())))
    figures = {**r.figures(), "chain_valid_file": float(bool(offline and offline.ok))}
    write_json(json_path, {"bench": "soak", "figures": figures})
    passed = r.errors == 0 and r.rss_growth_pct < GROWTH_TARGET_PCT and r.chain_valid and bool(offline and offline.ok)
    console.print(("[green]PASS[/]" if passed else "[red]FAIL[/]") + f": errors {r.errors}, memory growth "
                  f"{r.rss_growth_pct:.2f}% (target < {GROWTH_TARGET_PCT:g}%), chain valid {r.chain_valid}")
    if not passed:
        raise typer.Exit(1)
