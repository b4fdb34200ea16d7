"""Real servers for the backend tests: PostgreSQL, Prometheus and `keel sim serve`, on 127.0.0.1.

Each starts on a free port with a temporary data directory and is stopped (and its directory removed)
afterwards. Missing Debian binaries skip the test with the reason; `.ci/run` installs them.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.ci import unavailable

ROOT = Path(__file__).resolve().parents[2]


def postgres_bindir() -> Path | None:
    """PostgreSQL's server binaries: `pg_config --bindir`, else the newest /usr/lib/postgresql/*/bin (Debian)."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False).stdout.strip()
        if out:
            candidates.append(Path(out))
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name)
                      if p.parent.name.isdigit() else 0, reverse=True)
    candidates += versions
    return next((c for c in candidates if (c / "initdb").exists()), None)


PG_BIN = postgres_bindir()
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
ALERTMANAGER = (shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
                or "/usr/bin/prometheus-alertmanager")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check, timeout_s: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except RuntimeError:
            raise
        except Exception as e:  # not up yet
            last = e
        time.sleep(0.1)
    raise TimeoutError(f"{what} did not come up within {timeout_s} s ({last})")


def _stop(proc: subprocess.Popen, timeout_s: float = 10) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


# ---------------------------------------------------------------------------------------------- PostgreSQL
@dataclass
class Postgres:
    url: str
    port: int
    data_dir: Path


@contextlib.contextmanager
def postgres_server() -> Iterator[Postgres]:
    """A throwaway PostgreSQL cluster (trust auth on 127.0.0.1 only), run as user postgres when root."""
    if PG_BIN is None:
        unavailable("PostgreSQL server binaries not found (pg_config --bindir, /usr/lib/postgresql/*/bin); "
                    "apt-get install postgresql")
    initdb, pg_ctl = PG_BIN / "initdb", PG_BIN / "pg_ctl"
    as_user: list[str] = []
    if os.geteuid() == 0:
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            unavailable("running as root and there is no 'postgres' user to run PostgreSQL as")
        as_user = ["runuser", "-u", "postgres", "--"]
    base = Path(tempfile.mkdtemp(prefix="keel-pg-"))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    if as_user:
        os.chown(base, pw.pw_uid, pw.pw_gid)
        os.chown(sock, pw.pw_uid, pw.pw_gid)
    port = free_port()
    env = {**os.environ, "LC_ALL": "C.UTF-8"}
    run = lambda *a: subprocess.run([*as_user, *map(str, a)], check=True, capture_output=True, env=env)  # noqa: E731
    try:
        run(initdb, "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        opts = (f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c full_page_writes=off -c max_connections=200 -c shared_buffers=32MB")
        run(pg_ctl, "-D", data, "-o", opts, "-l", base / "log", "-w", "-t", "30", "start")
        yield Postgres(f"postgresql://postgres@127.0.0.1:{port}/postgres", port, data)
    finally:
        with contextlib.suppress(Exception):
            run(pg_ctl, "-D", data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)


def fresh_database(pg: Postgres, name: str) -> str:
    """Create an empty database in the cluster and return its URL."""
    import psycopg

    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql://postgres@127.0.0.1:{pg.port}/{name}"


# ---------------------------------------------------------------------------------------------- sim serve
@dataclass
class SimServe:
    proc: subprocess.Popen
    port: int
    log_dir: Path
    speed_s: float

    def minute(self) -> int:
        text = httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=2).text
        for line in text.splitlines():
            if line.startswith("keel_sim_minute "):
                return int(float(line.split()[1]))
        return 0


@contextlib.contextmanager
def sim_serve(scenario: Path, log_dir: Path, speed_s: float, max_log_bytes: int = 1_000_000,
              port: int | None = None, topology: str | None = None) -> Iterator[SimServe]:
    """`keel sim serve` as a separate process (on `--topology` when given)."""
    port = port or free_port()
    cmd = [sys.executable, "-m", "cli.main", "sim", "serve", "--scenario", str(scenario), "--port", str(port),
           "--log-dir", str(log_dir), "--speed", str(speed_s), "--max-log-bytes", str(max_log_bytes)]
    if topology:
        cmd += ["--topology", topology]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1).status_code == 200, 30,
                   "keel sim serve")
        yield SimServe(proc, port, log_dir, speed_s)
    finally:
        _stop(proc)


# ---------------------------------------------------------------------------------------------- Prometheus
@dataclass
class Prometheus:
    proc: subprocess.Popen
    url: str
    port: int

    def stop(self) -> None:
        _stop(self.proc)

    def query(self, promql: str) -> list[dict]:
        r = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=5)
        r.raise_for_status()
        return r.json()["data"]["result"]


@contextlib.contextmanager
def prometheus_server(targets: list[str], scrape_s: float = 1.0, rules: str | None = None,
                      alertmanager: str | None = None) -> Iterator[Prometheus]:
    """Debian's Prometheus scraping `targets` every `scrape_s` seconds, data in a temp directory; with `rules`
    (a rule file's YAML) evaluated every `scrape_s` and alerts sent to `alertmanager` (host:port)."""
    if not Path(PROMETHEUS).exists():
        unavailable("prometheus binary not found (apt-get install prometheus)")
    base = Path(tempfile.mkdtemp(prefix="keel-prom-"))
    config = base / "prometheus.yml"
    text = (
        "global:\n"
        f"  scrape_interval: {int(scrape_s * 1000)}ms\n"
        f"  evaluation_interval: {int(scrape_s * 1000)}ms\n"
        "scrape_configs:\n"
        "  - job_name: keel-sim\n"
        f"    static_configs:\n      - targets: [{', '.join(repr(t) for t in targets)}]\n"
    )
    if rules is not None:
        (base / "rules.yml").write_text(rules)
        text += f"rule_files: [{str(base / 'rules.yml')!r}]\n"
    if alertmanager is not None:
        text += f"alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [{alertmanager!r}]\n"
    config.write_text(text)
    port = free_port()
    cmd = [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={base / 'data'}",
           f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1h",
           "--log.level=warn"]
    if alertmanager is not None:  # resend firing alerts every second (Alertmanager then sees them as current)
        cmd.append(f"--rules.alert.resend-delay={max(1, int(scrape_s))}s")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=(base / "log").open("w"))
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"prometheus exited: {(base / 'log').read_text()[-500:]}")
        return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200

    try:
        wait_until(ready, 30, "prometheus")
        yield Prometheus(proc, url, port)
    finally:
        _stop(proc)
        shutil.rmtree(base, ignore_errors=True)


# ---------------------------------------------------------------------------------------------- Alertmanager
@dataclass
class Alertmanager:
    proc: subprocess.Popen
    url: str
    port: int

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@contextlib.contextmanager
def alertmanager_server(config: str, port: int | None = None) -> Iterator[Alertmanager]:
    """Debian's Alertmanager (`prometheus-alertmanager`) with `config` (YAML), clustering off, on 127.0.0.1."""
    if not Path(ALERTMANAGER).exists():
        unavailable("alertmanager binary not found (apt-get install prometheus-alertmanager)")
    base = Path(tempfile.mkdtemp(prefix="keel-am-"))
    (base / "alertmanager.yml").write_text(config)
    port = port or free_port()
    cmd = [ALERTMANAGER, f"--config.file={base / 'alertmanager.yml'}", f"--storage.path={base / 'data'}",
           f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=", "--log.level=warn"]
    log = (base / "log").open("w")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"alertmanager exited: {(base / 'log').read_text()[-500:]}")
        return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200

    try:
        wait_until(ready, 30, "alertmanager")
        yield Alertmanager(proc, url, port)
    finally:
        _stop(proc)
        log.close()
        shutil.rmtree(base, ignore_errors=True)
