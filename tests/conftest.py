"""Shared fixtures: an isolated KEEL_HOME for every test, and the path to the shared real data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
SHARED_EVALS = ROOT.parent / "shared" / "evals"


@pytest.fixture(autouse=True)
def _keel_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "keel-home"
    monkeypatch.setenv("KEEL_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def _default_topology() -> Iterator[None]:
    """Every test starts on the embedded default topology; one that switches the process's topology
    (a CLI command, a context built with `topology`) does not leak it into the next."""
    from tools.services import set_topology

    set_topology(None)
    yield
    set_topology(None)


def shared_data(sub: str) -> Path:
    """Path under ../shared/data, or skip the test with the reason."""
    p = SHARED_DATA / sub
    if not p.exists():
        pytest.skip(f"shared data not available: {p} is absent")
    return p


from tests.native_isolation import pytest_configure, pytest_runtest_protocol  # noqa: E402,F401  (hooks)
