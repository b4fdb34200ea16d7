"""Tests marked `native_model` (they load llama.cpp) run in a forked child process.

A native crash in the model (a segfault in llama.cpp, an abort) then ends only that child: the test is
reported as failed with the signal, this CPU's features and the remedy, and the rest of the suite runs.
The conftest imports these hooks; a `pytester` test drives them with a child that calls `os.abort()`.
"""

from __future__ import annotations

import json
import os
import signal

import pytest
from _pytest.reports import TestReport
from _pytest.runner import runtestprotocol

from finetune.slm.llama_runtime import FIX, amx_flags, cpu_summary

MARKER = "native_model"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}: loads llama.cpp; runs in a forked child so a native crash "
                            "fails this test only")


def crash_message(status: int) -> str:
    """What a test whose child died of `status` (as from waitpid) is reported with."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        how = f"killed by signal {sig} ({signal.Signals(sig).name})"
    else:
        how = f"exited with status {os.WEXITSTATUS(status)} before reporting"
    amx = ", ".join(amx_flags()) or "none"
    return (f"the test process was {how} inside native code (llama.cpp).\n"
            f"CPU: {cpu_summary()}\nAMX flags: {amx}\n"
            f"Remedy: {FIX}; `keel doctor` runs one planner call in a child process and reports the same.")


def _run_in_child(item: pytest.Item, nextitem: pytest.Item | None) -> list[TestReport]:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: run the test's setup/call/teardown, send the reports, exit without cleanup
        os.close(read_fd)
        code = 0
        try:  # the real next item: fixtures the parent set up and still needs are not torn down here
            reports = runtestprotocol(item, log=False, nextitem=nextitem)
            data = [item.config.hook.pytest_report_to_serializable(config=item.config, report=r) for r in reports]
            with os.fdopen(write_fd, "w") as out:
                json.dump(data, out)
        except BaseException:  # noqa: BLE001 - anything here means no reports; the parent says so
            code = 3
        finally:
            os._exit(code)
    os.close(write_fd)
    with os.fdopen(read_fd) as inp:
        payload = inp.read()
    _, status = os.waitpid(pid, 0)
    if payload and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
        reports = [item.config.hook.pytest_report_from_serializable(config=item.config, data=d)
                   for d in json.loads(payload)]
        for r in reports:  # JSON turned a skip's (path, line, reason) into a list; `-rs` needs the tuple back
            if r.skipped and isinstance(r.longrepr, list):
                r.longrepr = tuple(r.longrepr)
        return reports
    return [TestReport(item.nodeid, item.location, dict.fromkeys(item.keywords, 1), "failed",
                       crash_message(status), "call")]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    if item.get_closest_marker(MARKER) is None or not hasattr(os, "fork"):
        return None
    item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    for report in _run_in_child(item, nextitem):
        item.ihook.pytest_runtest_logreport(report=report)
    # The child tore down its own copy; here, tear down what this process set up for earlier items and the next
    # item does not need (a package or module left behind when the next test lives elsewhere).
    item.session._setupstate.teardown_exact(nextitem)
    item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True
