"""Shared test configuration.

Hypothesis runs derandomized (fixed seed) so the suite is deterministic. PostgreSQL tests
share one private server per session and get a new database each.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from .postgres_server import PostgresServer, ServerUnavailable

settings.register_profile(
    "default",
    derandomize=True,
    deadline=None,
    max_examples=150,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("default")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A private PostgreSQL server for the session. Missing binaries or a server that will
    not start FAIL the tests that need it: they are never skipped."""
    server = PostgresServer()
    try:
        server.start()
    except ServerUnavailable as exc:
        server.stop()
        pytest.fail(f"PostgreSQL is required for these tests: {exc}")
    yield server
    server.stop()


@pytest.fixture
def pg_database(postgres_server: PostgresServer) -> Iterator[str]:
    """A new, empty database on the test server (its URL, password included), dropped after."""
    import psycopg

    name = f"cs_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server.url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}".encode())
    yield postgres_server.url_for(name)
    with psycopg.connect(postgres_server.url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)".encode())
