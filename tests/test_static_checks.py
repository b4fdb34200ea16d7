"""The codebase passes its own static checks (`make lint`): ruff, and mypy over the packages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("cli", "agent", "tools", "causal", "governance", "finetune", "evals", "runtime", "config")


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_is_clean() -> None:
    pytest.importorskip("ruff", reason="ruff is not installed in this environment (pip install -e '.[dev]')")
    r = _run(sys.executable, "-m", "ruff", "check", "--no-cache", ".")
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.slow
def test_mypy_is_clean() -> None:
    pytest.importorskip("mypy")
    r = _run(sys.executable, "-m", "mypy", *PACKAGES)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
