"""Destinations across runs and programs: schema versions both ways, concurrent runs, and the
property that any sequence of syncs leaves the last full sync's customers plus deletions."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import tempfile
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customer_sync.errors import SinkError
from customer_sync.frames import CUSTOMER_SCHEMA
from customer_sync.models import CUSTOMER_FIELDS
from customer_sync.simulated_api.generator import GeneratedDataset
from customer_sync.sink.parquet_sink import ParquetSink
from customer_sync.sink.tables import MIGRATIONS, Migration, SchemaVersionError
from customer_sync.transform import CustomerDataProcessor

from .destination_support import (
    T0,
    DuckDBTarget,
    ParquetTarget,
    PostgresTarget,
    Target,
    metadata,
    simple_result,
)

NEWER = (*MIGRATIONS, Migration(MIGRATIONS[-1].version + 1, "test: an extra column", (
    "ALTER TABLE {s}customers ADD COLUMN loyalty_points BIGINT",
)))


# --- schema versions ------------------------------------------------------------------
def test_newer_program_upgrades_older_tables_additively(db_target: Target) -> None:
    """Tables of an older version are upgraded in place: rows kept, the version recorded."""
    db_target.sink().write(simple_result([1, 2]), metadata(T0))
    db_target.sink(migrations=NEWER).write(simple_result([2, 3]), metadata(T0 + timedelta(1)))
    versions = [v for (v,) in db_target.sql("SELECT version FROM schema_migrations ORDER BY 1")]
    assert versions == [m.version for m in NEWER]
    rows = db_target.customers()
    assert "loyalty_points" in rows.columns
    assert rows.get_column("customer_id").to_list() == [1, 2, 3]
    assert rows.get_column("is_deleted").to_list() == [True, False, False]


SYNC_COLUMNS = ("sync_mode", "mark_used", "new_mark", "customers_new", "customers_updated",
                "customers_unchanged", "customers_deleted")


def _as_version_1(target: Target) -> None:
    """Turn the tables into what a version-1 program left: sync_runs without the sync
    columns, schema_migrations at version 1."""
    if isinstance(target, ParquetTarget):
        runs = target.directory / "sync_runs.parquet"
        pl.read_parquet(runs).drop(SYNC_COLUMNS).write_parquet(runs)
        versions = target.directory / "schema_migrations.parquet"
        pl.read_parquet(versions).filter(pl.col("version") == 1).write_parquet(versions)
        return
    statements = [f"ALTER TABLE sync_runs DROP COLUMN {column}" for column in SYNC_COLUMNS]
    statements.append("DELETE FROM schema_migrations WHERE version > 1")
    if isinstance(target, PostgresTarget):
        with psycopg.connect(target.url) as conn:
            conn.execute(f'SET search_path TO "{target.schema}"')
            for statement in statements:
                conn.execute(statement)  # type: ignore[arg-type]
        return
    for statement in statements:
        target.sql(statement)


def test_version_1_tables_gain_the_sync_columns(target: Target) -> None:
    """Tables of schema version 1 are upgraded to the current one: sync_runs gains the sync
    columns, null in the old rows, filled in the new; customers and old runs are kept."""
    target.sink().write(simple_result([1, 2]), metadata(T0, "run-v1"))
    _as_version_1(target)
    assert "sync_mode" not in target.read("sync_runs").columns
    later = {**metadata(T0 + timedelta(1), "run-v2"),
             "sync": {"mode": "full", "new_mark": "2026-12-01T09:00:00Z",
                      "customers": {"new": 1, "updated": 0, "unchanged": 1, "deleted": 1}}}
    target.sink().write(simple_result([2, 3]), later)
    versions = sorted(v for v in target.read("schema_migrations").get_column("version"))
    assert versions == [m.version for m in MIGRATIONS]
    assert MIGRATIONS[-1].version >= 2
    runs = {r["run_id"]: r for r in target.read("sync_runs").iter_rows(named=True)}
    assert [runs["run-v1"][c] for c in SYNC_COLUMNS] == [None] * 7
    assert [runs["run-v2"][c] for c in ("sync_mode", "customers_new", "customers_deleted")] == [
        "full", 1, 1]
    rows = target.customers()
    assert rows.get_column("customer_id").to_list() == [1, 2, 3]
    assert rows.get_column("is_deleted").to_list() == [True, False, False]


def test_older_program_refuses_a_newer_schema(db_target: Target) -> None:
    """An older program meets a newer schema: it refuses before fetching, and on write, with
    one clear line, and changes nothing."""
    db_target.sink(migrations=NEWER).write(simple_result([1]), metadata(T0))
    before = db_target.customers()
    old = db_target.sink(migrations=MIGRATIONS)
    with pytest.raises(SchemaVersionError, match="newer than this program") as caught:
        old.check_writable()
    assert caught.value.exit_code == 1
    assert "upgrade customer_sync" in str(caught.value)
    with pytest.raises(SchemaVersionError):
        old.write(simple_result([2]), metadata(T0 + timedelta(1)))
    assert db_target.customers().equals(before)


def test_parquet_refuses_a_newer_schema(tmp_path: Path) -> None:
    """A Parquet folder written by a newer program is refused and left as it was."""
    target = ParquetTarget(tmp_path / "tables")
    target.sink().write(simple_result([1]), metadata(T0))
    path = target.directory / "schema_migrations.parquet"
    newer = pl.read_parquet(path).with_columns(pl.col("version") + 100)
    newer.write_parquet(path)
    before = target.customers()
    with pytest.raises(SchemaVersionError, match="newer than this program"):
        target.sink().check_writable()
    with pytest.raises(SchemaVersionError):
        target.sink().write(simple_result([2]), metadata(T0 + timedelta(1)))
    assert target.customers().equals(before)


# --- concurrent runs ------------------------------------------------------------------
def test_duckdb_in_use_by_another_process_waits_then_fails(tmp_path: Path) -> None:
    """While another process holds the DuckDB file, a run waits its bounded time (fake
    sleeps), then fails with exit 1 saying the database is in use; the file stays whole."""
    target = DuckDBTarget(tmp_path / "c.duckdb")
    target.sink().write(simple_result([1, 2]), metadata(T0))
    before = target.customers()
    with subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); "
         "sys.stdin.readline()", str(target.path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    ) as holder:
        assert holder.stdin is not None
        assert holder.stdout is not None
        try:
            assert holder.stdout.readline().strip() == "ready"
            waits: list[float] = []
            sink = target.sink(lock_wait=1.0, sleep=waits.append)
            with pytest.raises(SinkError, match="in use by another process") as caught:
                sink.write(simple_result([3]), metadata(T0 + timedelta(1)))
            assert caught.value.exit_code == 1
            assert sum(waits) == pytest.approx(1.0)
        finally:
            holder.stdin.write("\n")
            holder.stdin.flush()
            holder.wait(timeout=30)
    assert target.customers().equals(before)
    target.sink().write(simple_result([3]), metadata(T0 + timedelta(2)))
    assert target.read("sync_runs").height == 2


def test_parquet_folder_in_use_waits_then_fails(tmp_path: Path) -> None:
    """While another run holds the folder's lock, a run waits its bounded time, then fails."""
    target = ParquetTarget(tmp_path / "tables")
    target.sink().write(simple_result([1]), metadata(T0))
    fd = os.open(target.directory / ".lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        waits: list[float] = []
        sink = ParquetSink(target.directory, lock_wait=0.5, sleep=waits.append)
        with pytest.raises(SinkError, match="in use by another run"):
            sink.write(simple_result([2]), metadata(T0 + timedelta(1)))
        assert sum(waits) == pytest.approx(0.5)
    finally:
        os.close(fd)
    assert target.customers().get_column("customer_id").to_list() == [1]


def test_postgres_run_waits_for_the_schema_advisory_lock(pg_database: str) -> None:
    """A run against a schema another run holds waits for the transaction-level advisory
    lock; past its bounded wait it fails saying the schema is in use."""
    target = PostgresTarget(pg_database, "analytics")
    target.sink().write(simple_result([1]), metadata(T0))
    with psycopg.connect(pg_database) as other:
        other.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('customer_sync:analytics', 0))"
        )
        with pytest.raises(SinkError, match="in use by another run") as caught:
            target.sink(lock_wait=0.2).write(simple_result([2]), metadata(T0 + timedelta(1)))
        assert caught.value.exit_code == 1
        # another schema is not blocked
        PostgresTarget(pg_database, "other").sink(lock_wait=0.2).write(
            simple_result([9]), metadata(T0 + timedelta(1))
        )
    assert target.customers().get_column("customer_id").to_list() == [1]


@pytest.mark.slow
def test_two_concurrent_postgres_runs_take_turns(pg_database: str) -> None:
    """Two runs started together on one schema both succeed, one after the other: the
    table is exactly one run's customers plus the other's deletions, with two sync_runs."""
    target = PostgresTarget(pg_database, "analytics")
    results = [simple_result(range(1, 2001)), simple_result(range(1001, 3001))]
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def run(index: int) -> None:
        try:
            start.wait()
            target.sink().write(results[index], metadata(T0 + timedelta(index)))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    rows = target.customers()
    live = set(rows.filter(~pl.col("is_deleted")).get_column("customer_id").to_list())
    assert live in ({*range(1, 2001)}, {*range(1001, 3001)})
    assert rows.height == 3000
    assert target.read("sync_runs").height == 2


# --- the property ---------------------------------------------------------------------
DATASET = GeneratedDataset(60, seed=5, now=T0)
POOL = [DATASET.record(i) for i in range(len(DATASET))]

sync = st.tuples(
    st.sets(st.integers(0, len(POOL) - 1), max_size=len(POOL)),  # records present
    st.integers(0, 40),  # sessions_30d for the changed records
    st.sets(st.integers(0, len(POOL) - 1), max_size=10),  # records changed this run
)


def _records(present: set[int], sessions: int, changed: set[int]) -> list[Any]:
    records = []
    for index in sorted(present):
        record = POOL[index]
        if index in changed and isinstance(record, dict):
            record = {**record, "sessions_30d": sessions, "plan": "enterprise"}
        records.append(record)
    return records


_examples = iter(range(1_000_000))


def _fresh_target(kind: str, root: Path, pg_url: str | None) -> Target:
    n = next(_examples)
    if kind == "duckdb":
        return DuckDBTarget(root / f"p{n}.duckdb")
    if kind == "parquet":
        return ParquetTarget(root / f"p{n}")
    assert pg_url is not None
    return PostgresTarget(pg_url, f"p{n}")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["duckdb", "parquet", "postgresql"])
def test_any_sequence_of_syncs_leaves_the_last_full_sync_plus_deletions(
    kind: str, request: pytest.FixtureRequest
) -> None:
    """For random sequences of full syncs over a changing simulator dataset, customers holds
    exactly the last sync's output, plus every earlier customer marked deleted."""
    pg_url = request.getfixturevalue("pg_database") if kind == "postgresql" else None
    root = Path(tempfile.mkdtemp(prefix="cs-prop-"))
    processor = CustomerDataProcessor(as_of=T0)

    @settings(max_examples=10, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(sync, min_size=1, max_size=4))
    def check(syncs: list[tuple[set[int], int, set[int]]]) -> None:
        target = _fresh_target(kind, root, pg_url)
        ever: set[int] = set()
        first_seen: dict[int, Any] = {}
        last = None
        for step, (present, sessions, changed) in enumerate(syncs):
            last = processor.process_customers(_records(present, sessions, changed))
            at = T0 + timedelta(hours=step)
            target.sink().write(last, metadata(at))
            for cid in last.frame.get_column("customer_id").to_list():
                first_seen.setdefault(cid, at)
            ever |= set(last.frame.get_column("customer_id").to_list())
        assert last is not None
        rows = target.customers()
        live = rows.filter(~pl.col("is_deleted")).select(CUSTOMER_FIELDS)
        expected = last.frame.select(
            [pl.col(c).cast(t) for c, t in CUSTOMER_SCHEMA.items()]
        ).sort("customer_id")
        assert live.cast(CUSTOMER_SCHEMA).sort("customer_id").equals(expected)  # type: ignore[arg-type]
        deleted = set(rows.filter(pl.col("is_deleted")).get_column("customer_id").to_list())
        assert deleted == ever - set(expected.get_column("customer_id").to_list())
        assert dict(rows.select("customer_id", "first_seen_at").iter_rows()) == first_seen
        assert target.read("sync_runs").height == len(syncs)

    check()
