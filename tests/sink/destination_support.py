"""Shared pieces of the destination tests: results to load, and one adapter per table sink
(DuckDB file, Parquet folder, PostgreSQL schema) that builds the sink and reads its tables
back as Polars frames, so one test states a rule for all three."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import psycopg

from customer_sync.destinations import parse_destination
from customer_sync.models import Merge, ProcessCounts, ProcessResult, Rejection
from customer_sync.sink.base import Sink
from customer_sync.sink.duckdb_sink import DuckDBSink
from customer_sync.sink.parquet_sink import ParquetSink
from customer_sync.sink.postgres_sink import PostgresSink
from customer_sync.sink.summary import to_frame
from customer_sync.sink.tables import CANONICAL_SCHEMA

from ..support import sample_customer

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
_ids = itertools.count(1)


def customer(cid: int, **overrides: Any) -> dict[str, Any]:
    return sample_customer(customer_id=cid, full_name=f"Customer {cid:04d}", **overrides)


def canonical_row(cid: int, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "customer_id": cid,
        "email": f"c{cid}@example.com",
        "first_name": "Customer",
        "last_name": f"{cid:04d}",
        "country": "US",
        "region": "CA",
        "plan": "pro",
        "lifetime_value": 1234.5,
        "sessions_30d": 12,
        "orders_count": 3,
        "signup_source": "web",
        "created_at": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        "last_login_at": datetime(2026, 11, 29, tzinfo=UTC),
        "updated_at": datetime(2026, 11, 29, 12, tzinfo=UTC),
        "data_quality_band": "high",
        "quality_issues": [],
    }
    row.update(overrides)
    return row


def result_of(
    customers: Sequence[Mapping[str, Any]],
    canonical: Sequence[Mapping[str, Any]] | None = None,
    *,
    rejected: Sequence[Rejection] = (),
    merges: Sequence[Merge] = (),
) -> ProcessResult:
    """A result as the transform gives it: sorted by full_name, canonical in the same order."""
    frame = to_frame(list(customers)).sort("full_name", "customer_id")
    canon = None
    if canonical is not None:
        by_id = {row["customer_id"]: row for row in canonical}
        ordered = [by_id[cid] for cid in frame.get_column("customer_id").to_list()]
        schema = {"customer_id": pl.Int64(), **CANONICAL_SCHEMA, "lifetime_value": pl.Float64()}
        canon = pl.DataFrame(ordered, schema=schema)
    n = frame.height
    return ProcessResult(
        frame=frame,
        rejected=list(rejected),
        merges=list(merges),
        counts=ProcessCounts(
            records_in=n + len(rejected) + len(merges),
            exported=n,
            duplicates_merged=len(merges),
            rejected=len(rejected),
        ),
        canonical=canon,
    )


def simple_result(ids: Iterable[int], **overrides: Any) -> ProcessResult:
    ids = list(ids)
    return result_of([customer(i, **overrides) for i in ids], [canonical_row(i) for i in ids])


def metadata(at: datetime, run: str | None = None) -> dict[str, Any]:
    """The run metadata a sink reads (as the pipeline builds it)."""
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "total_customers": 0,
        "export_timestamp": (at + timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data_quality_summary": {"high_quality": 1, "medium_quality": 0, "low_quality": 0},
        "as_of": stamp,
        "started_at": stamp,
        "run_id": run or f"run-{next(_ids):05d}",
        "source": {"url": "http://***@127.0.0.1:1/api", "simulated": True},
        "run_stats": {"pages": 2, "requests": 3, "retries": {"http_503": 1},
                      "rate_limited": 0, "waited_seconds": 1.5, "drift_detected": False},
        "pipeline_version": "0.1.0",
    }


class Target:
    """One table destination under test."""

    kind: str

    def sql(self, query: str) -> list[tuple[Any, ...]]:
        raise NotImplementedError(f"{self.kind} has no SQL")

    def sink(self, **options: Any) -> Sink:
        raise NotImplementedError

    def read(self, table: str) -> pl.DataFrame:
        raise NotImplementedError

    def customers(self) -> pl.DataFrame:
        rows = self.read("customers")  # an empty PostgreSQL result has no column types
        return rows.with_columns(
            pl.col("customer_id").cast(pl.Int64), pl.col("is_deleted").cast(pl.Boolean)
        ).sort("customer_id")


class DuckDBTarget(Target):
    kind = "duckdb"

    def __init__(self, path: Path) -> None:
        self.path = path

    def sink(self, **options: Any) -> DuckDBSink:
        return DuckDBSink(self.path, **options)

    def read(self, table: str) -> pl.DataFrame:
        with duckdb.connect(str(self.path), read_only=True) as con:
            return con.sql(f"SELECT * FROM {table}").pl()

    def sql(self, query: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.path)) as con:  # through Polars: fetchall() of a
            relation = con.sql(query)  # TIMESTAMPTZ would need pytz
            return relation.pl().rows() if relation is not None else []


class ParquetTarget(Target):
    kind = "parquet"

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def sink(self, **options: Any) -> ParquetSink:
        options.pop("migrations", None)
        before = options.pop("before_commit", None)
        return ParquetSink(self.directory, before_replace=before, **options)

    def read(self, table: str) -> pl.DataFrame:
        return pl.read_parquet(self.directory / f"{table}.parquet")


class PostgresTarget(Target):
    kind = "postgresql"

    def __init__(self, url: str, schema: str) -> None:
        self.url = url
        self.schema = schema
        self.destination = parse_destination(f"{url}?schema={schema}")

    def sink(self, **options: Any) -> PostgresSink:
        return PostgresSink(self.destination, **options)

    def read(self, table: str) -> pl.DataFrame:
        with psycopg.connect(self.url) as conn:
            cursor = conn.execute(f'SELECT * FROM "{self.schema}".{table}')
            names = [d.name for d in cursor.description or ()]
            rows = cursor.fetchall()
        return pl.DataFrame(rows, schema=names, orient="row", infer_schema_length=None)

    def sql(self, query: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url) as conn:
            conn.execute(f'SET search_path TO "{self.schema}"')
            return conn.execute(query).fetchall()


def data_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """A customers table without the per-run bookkeeping (which run, when last synced)."""
    return frame.drop("last_synced_at", "last_run_id").sort("customer_id")


Write = Callable[[ProcessResult, Mapping[str, Any]], Any]
