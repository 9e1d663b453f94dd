"""Fixtures of the destination tests: one table target per kind of destination."""

from __future__ import annotations

from pathlib import Path

import pytest

from .destination_support import DuckDBTarget, ParquetTarget, PostgresTarget, Target


@pytest.fixture(params=["duckdb", "parquet", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    """Each table destination in turn: a DuckDB file, a Parquet folder, a PostgreSQL schema."""
    if request.param == "duckdb":
        return DuckDBTarget(tmp_path / "customers.duckdb")
    if request.param == "parquet":
        return ParquetTarget(tmp_path / "tables")
    return PostgresTarget(request.getfixturevalue("pg_database"), "analytics")


@pytest.fixture(params=["duckdb", "postgresql"])
def db_target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    """Each database destination in turn (the ones with SQL, transactions and migrations)."""
    if request.param == "duckdb":
        return DuckDBTarget(tmp_path / "customers.duckdb")
    return PostgresTarget(request.getfixturevalue("pg_database"), "analytics")
