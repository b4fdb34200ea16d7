"""The log-file backend on real files: JSON lines and plain text, rotated and gzipped files, time window,
level, substring and regex, limit, service filter and mapping."""

from __future__ import annotations

import gzip
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tools.backends.base import BackendError
from tools.backends.logfiles import FileLogs, parse_line, parse_time
from tools.backends.sim.scenario import Scenario
from tools.backends.sim.serve import LiveSim
from tools.backends.sim_backend import sim_context
from tools.registry import call_tool

NOW = 1_800_000_000.0


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def jl(ts: float, service: str, level: str, message: str) -> str:
    return json.dumps({"ts": iso(ts), "service": service, "level": level, "message": message}) + "\n"


@pytest.fixture
def logs(tmp_path: Path) -> FileLogs:
    d = tmp_path / "logs"
    d.mkdir()
    # the live file and two rotations (older content in higher numbers), one of them gzipped
    (d / "app.log").write_text(
        jl(NOW - 30, "paymentservice", "error", "charge failed: Timeout contacting bank")
        + jl(NOW - 20, "paymentservice", "info", "Transaction processed")
        + jl(NOW - 10, "cartservice", "warn", "slow request: 900ms")
        + "not a log line at all\n"
        + jl(NOW - 5, "checkoutservice", "error", "rpc error: code = DeadlineExceeded desc = call timed out")
    )
    (d / "app.log.1").write_text(jl(NOW - 400, "paymentservice", "error", "timeout talking to bank")
                                 + jl(NOW - 3000, "paymentservice", "error", "too old for a 15m window"))
    with gzip.open(d / "app.log.2.gz", "wt") as fh:
        fh.write(jl(NOW - 600, "paymentservice", "warn", "retrying charge (timeout)"))
    # plain text: service from the line or from the file name; naive times are UTC
    naive = datetime.fromtimestamp(NOW - 60, UTC).strftime("%Y-%m-%d %H:%M:%S,123")
    (d / "emailservice.log").write_text(
        f"{iso(NOW - 50)} ERROR smtp: connection refused by relay\n"
        f"{naive} WARNING queue backing up\n"
        "    at send_mail (mailer.py:42)\n"
    )
    (d / "ancient.log").write_text(jl(NOW - 90_000, "adservice", "error", "from yesterday"))
    (d / "notes.txt").write_text(jl(NOW - 1, "adservice", "error", "not matched by the glob"))
    # modification times as if written when their newest line was
    for name, last in (("app.log", NOW - 5), ("app.log.1", NOW - 400), ("app.log.2.gz", NOW - 600),
                       ("emailservice.log", NOW - 50), ("ancient.log", NOW - 90_000), ("notes.txt", NOW - 1)):
        os.utime(d / name, (last, last))
    return FileLogs(d, clock=lambda: NOW)


def test_parse_line_formats() -> None:
    assert parse_line('{"time": 1800000000123, "severity": "WARNING", "msg": "m", "app": "a"}', "f") == \
        parse_line('{"@timestamp": "2027-01-15T08:00:00.123Z", "lvl": "warn", "log": "m", "service_name": "a"}', "f")
    rec = parse_line("2027-01-15T08:00:00+01:00 [CRITICAL] [cart] disk full", "file")
    assert rec is not None and (rec.service, rec.level, rec.message) == ("cart", "error", "disk full")
    assert rec.ts == parse_time("2027-01-15T07:00:00Z")
    assert parse_line("    at foo (bar.js:1)", "f") is None
    assert parse_line('{"message": "no time"}', "f") is None


def test_window_covers_rotated_and_gzipped_files(logs: FileLogs) -> None:
    page = logs.search("timeout", "paymentservice", None, 15 * 60, 20)
    assert [r.message for r in page.lines] == [
        "charge failed: Timeout contacting bank", "timeout talking to bank", "retrying charge (timeout)"]
    assert page.total == 3
    assert logs.search("timeout", "paymentservice", None, 60, 20).total == 1
    assert logs.search("yesterday", None, None, 15 * 60, 20).total == 0
    assert logs.search("yesterday", None, None, 2 * 86400, 20).total == 1


def test_level_limit_and_order(logs: FileLogs) -> None:
    page = logs.search("", None, "error", 15 * 60, 2)
    assert page.total == 4  # payment x2 in window, checkout, email (smtp)
    assert [r.service for r in page.lines] == ["checkoutservice", "paymentservice"]
    assert page.lines[0].ts > page.lines[1].ts


def test_plain_text_lines(logs: FileLogs) -> None:
    page = logs.search("", "emailservice", None, 15 * 60, 10)
    assert page.total == 1 and page.lines[0].message == "queue backing up"  # "smtp:" names the service
    smtp = logs.search("relay", None, None, 15 * 60, 10)
    assert [(r.service, r.level) for r in smtp.lines] == [("smtp", "error")]


def test_regex_queries(logs: FileLogs) -> None:
    page = logs.search("/Deadline|Timeout/", None, None, 15 * 60, 10)
    assert {r.service for r in page.lines} == {"checkoutservice", "paymentservice"} and page.total == 2
    with pytest.raises(ValueError, match="bad regular expression"):
        logs.search("/(unclosed/", None, None, 60, 10)


def test_service_map_translates_names(logs: FileLogs) -> None:
    mapped = FileLogs(logs.log_dir, clock=lambda: NOW, service_map={"emailservice": "smtp"})
    page = mapped.search("relay", "emailservice", None, 15 * 60, 10)
    assert [r.service for r in page.lines] == ["emailservice"]


def test_missing_directory_is_a_backend_error(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match="log files in .*does not exist"):
        FileLogs(tmp_path / "nope").search("", None, None, 60, 10)


def test_live_sim_files_match_the_simulators_own_search(tmp_path: Path) -> None:
    """What `keel sim serve` writes, read back by the file backend, is what the simulator says it logged."""
    sc = Scenario.model_validate({"seed": 3, "faults": [
        {"type": "error_burst", "service": "paymentservice", "start": 5, "duration": 30}]})
    sim = sc.build()
    t0 = time.time() - 30 * 60  # thirty simulated minutes, one per real minute, ending now
    live = LiveSim(sim, 60.0, tmp_path / "logs", max_log_bytes=8_000, log_backups=50, t0=t0)
    for _ in range(30):
        live.tick()
    live.close()
    assert len(list((tmp_path / "logs").glob("keel-sim.log.*"))) >= 3
    files = FileLogs(tmp_path / "logs")
    ctx = sim_context(sim)
    ctx.logs = files
    got = call_tool("search_logs", {"service": "payment", "level": "error", "window": "20m", "limit": 50}, ctx)
    expected = call_tool("search_logs", {"service": "payment", "level": "error", "window": "20m", "limit": 50},
                         sim_context(sim))
    assert got.status == expected.status == "ok"
    assert got.data["total_matches"] == expected.data["total_matches"] > 20
    assert [x["message"] for x in got.data["lines"]] == [x["message"] for x in expected.data["lines"]]
