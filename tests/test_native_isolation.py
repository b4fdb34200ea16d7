"""A native crash in a `native_model` test fails that test only, names the CPU and the remedy, and the
rest of the suite runs (an inner pytest run whose middle test calls `os.abort()` in its child)."""

from __future__ import annotations

import os

import pytest

from tests.conftest import ROOT

pytest_plugins = ["pytester"]

INNER = '''
import os

import pytest

def test_before():
    assert 1 + 1 == 2

@pytest.mark.native_model
def test_model_crashes():
    os.abort()

@pytest.mark.native_model
def test_model_passes_in_its_child():
    assert os.getpid() != int(os.environ["OUTER_PID"])

def test_after():
    assert True
'''


@pytest.mark.skipif(not hasattr(os, "fork"), reason="isolation forks; this platform has no fork()")
def test_abort_in_a_native_test_fails_it_and_the_suite_goes_on(pytester: pytest.Pytester,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("OUTER_PID", str(os.getpid()))
    pytester.makeconftest("from tests.native_isolation import pytest_configure, pytest_runtest_protocol\n")
    pytester.makepyfile(test_inner=INNER)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rf")
    result.assert_outcomes(passed=3, failed=1)
    out = result.stdout.str()
    assert "test_model_crashes" in out and "SIGABRT" in out
    assert "CPU:" in out and "AMX flags:" in out and "llama_extra_bufts = false" in out
