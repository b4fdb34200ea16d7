"""Fixtures for the backend tests: one throwaway PostgreSQL cluster per session, a fresh database per test."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from tests.backends.servers import Postgres, fresh_database, postgres_server

_names = itertools.count()


@pytest.fixture(scope="session")
def pg() -> Iterator[Postgres]:
    with postgres_server() as server:
        yield server


@pytest.fixture
def pg_url(pg: Postgres) -> str:
    return fresh_database(pg, f"keel_test_{next(_names)}")
