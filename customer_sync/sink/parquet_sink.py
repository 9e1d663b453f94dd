"""The Parquet sink: a folder with one zstd Parquet file per table, replaced as a set.

    customers.parquet           the current state: every customer ever seen, soft deletes
                                included, merged with the previous snapshot by customer_id
    rejected_records.parquet    this run's rejected records
    customer_lineage.parquet    this run's merges
    sync_runs.parquet           every run so far (accumulates)
    schema_migrations.parquet   the schema version of the files

Every file is written to a temp name in the folder first (``.NAME.PID.tmp``), fsynced, and
only when all are written are they renamed over the old ones and the folder fsynced, the
way the JSON sink replaces its output set. A failure before the renames leaves every
previous file as it was. An exclusive lock on ``DIR/.lock`` keeps two runs from
interleaving; the second waits a bounded time, then fails saying the folder is in use.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import polars as pl

from ..atomic import sweep_stale_temps, write_together
from ..errors import SinkError
from ..models import ProcessResult
from .base import SinkReport
from .tables import (
    CUSTOMER_TABLE_COLUMNS,
    MIGRATIONS,
    RUNS_SCHEMA,
    STAGING_COLUMNS,
    UTC_US,
    VALUE_COLUMNS,
    RunInfo,
    customers_frame,
    lineage_frame,
    plan_migrations,
    rejected_frame,
    runs_frame,
)

__all__ = ["TABLE_FILES", "ParquetSink"]

TABLE_FILES = (
    "customers.parquet",
    "rejected_records.parquet",
    "customer_lineage.parquet",
    "sync_runs.parquet",
    "schema_migrations.parquet",
)
_LOCK_POLL = 0.25
_MIGRATIONS_SCHEMA: dict[str, pl.DataType] = {
    "version": pl.Int32(),
    "description": pl.String(),
    "applied_at": UTC_US,
}


class ParquetSink:
    """Writes the analytics tables as Parquet files into one folder."""

    def __init__(
        self,
        directory: Path,
        *,
        lock_wait: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        before_replace: Callable[[], None] | None = None,
        full_sync: bool = True,
    ) -> None:
        self.directory = directory
        self.lock_wait = lock_wait
        self._sleep = sleep
        self._before_replace = before_replace
        self.full_sync = full_sync

    def __repr__(self) -> str:
        return f"ParquetSink({str(self.directory)!r})"

    def check_writable(self) -> None:
        target = self.directory if self.directory.exists() else self.directory.parent
        if not target.is_dir():
            raise SinkError(
                f"parquet:{self.directory}: {str(target)!r} is not a directory",
                hint="create its parent folder or choose another --destination",
            )
        if not os.access(target, os.W_OK | os.X_OK):
            raise SinkError(f"parquet:{self.directory}: {str(target)!r} is not writable")
        plan_migrations(self._version(), MIGRATIONS, f"parquet:{self.directory}")
        if self.directory.exists():
            for name in TABLE_FILES:
                sweep_stale_temps(self.directory / name)

    def write(self, result: ProcessResult, metadata: Mapping[str, Any]) -> SinkReport:
        run = RunInfo.from_metadata(metadata, new_id=lambda: uuid.uuid4().hex)
        try:
            self.directory.mkdir(exist_ok=True)
            with self._locked():
                plan_migrations(self._version(), MIGRATIONS, f"parquet:{self.directory}")
                customers, deleted = self._merge(customers_frame(result), run)
                runs = pl.concat(
                    [self._read("sync_runs.parquet", RUNS_SCHEMA),
                     runs_frame(result, run, deleted=deleted)],
                    how="vertical",
                )
                tables = {
                    "customers.parquet": customers,
                    "rejected_records.parquet": rejected_frame(result, run),
                    "customer_lineage.parquet": lineage_frame(result, run),
                    "sync_runs.parquet": runs,
                    "schema_migrations.parquet": self._migrations(run),
                }
                self._replace_all(tables)
        except OSError as exc:
            raise SinkError(
                f"cannot write parquet:{self.directory}: {exc.strerror or exc}",
                hint="the previous files are intact",
            ) from exc
        return SinkReport(target=f"parquet:{self.directory}")

    # --- steps ------------------------------------------------------------------------
    def _read(self, name: str, schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
        """A table's previous file in today's schema (columns added since are null)."""
        path = self.directory / name
        if not path.exists():
            return pl.DataFrame(schema=dict(schema))
        frame = pl.read_parquet(path)
        return frame.select(
            [
                pl.col(c).cast(t) if c in frame.columns else pl.lit(None, dtype=t).alias(c)
                for c, t in schema.items()
            ]
        )

    def _version(self) -> int | None:
        path = self.directory / "schema_migrations.parquet"
        if not path.exists():
            return None
        versions = pl.read_parquet(path, columns=["version"]).get_column("version")
        return None if versions.is_empty() else int(versions.max())  # type: ignore[arg-type]

    def _migrations(self, run: RunInfo) -> pl.DataFrame:
        known = self._read("schema_migrations.parquet", _MIGRATIONS_SCHEMA)
        have = set(known.get_column("version").to_list())
        new = [
            {"version": m.version, "description": m.description, "applied_at": run.started_at}
            for m in MIGRATIONS
            if m.version not in have
        ]
        return pl.concat([known, pl.DataFrame(new, schema=_MIGRATIONS_SCHEMA)], how="vertical")

    def _merge(self, staging: pl.DataFrame, run: RunInfo) -> tuple[pl.DataFrame, int]:
        """The new current state and how many customers were newly deleted."""
        schema = {**dict(staging.schema), **_BOOKKEEPING}
        previous = self._read("customers.parquet", schema)
        at, run_id = pl.lit(run.started_at, dtype=UTC_US), pl.lit(run.run_id)
        old = previous.rename({c: f"{c}__old" for c in previous.columns if c != "customer_id"})
        joined = staging.join(old, on="customer_id", how="left")
        # A row keeps its stamp (last_synced_at, last_run_id) unless this run changes it.
        same = pl.col("is_deleted__old").not_().fill_null(False)
        for column in VALUE_COLUMNS:
            same = same & pl.col(column).eq_missing(pl.col(f"{column}__old"))
        present = joined.with_columns(
            pl.col("first_seen_at__old").fill_null(at).alias("first_seen_at"),
            pl.when(same).then(pl.col("last_synced_at__old")).otherwise(at)
            .alias("last_synced_at"),
            pl.when(same).then(pl.col("last_run_id__old")).otherwise(run_id).alias("last_run_id"),
            pl.lit(False).alias("is_deleted"),
            pl.lit(None, dtype=UTC_US).alias("deleted_at"),
        )
        absent = previous.join(staging.select("customer_id"), on="customer_id", how="anti")
        deleted = 0
        if self.full_sync:
            newly = ~pl.col("is_deleted")
            deleted = int(absent.select(newly.sum()).item())
            absent = absent.with_columns(
                pl.when(newly).then(at).otherwise(pl.col("last_synced_at"))
                .alias("last_synced_at"),
                pl.when(newly).then(run_id).otherwise(pl.col("last_run_id")).alias("last_run_id"),
                pl.lit(True).alias("is_deleted"),
                pl.col("deleted_at").fill_null(at),
            )
        merged = pl.concat(
            [present.select(CUSTOMER_TABLE_COLUMNS), absent.select(CUSTOMER_TABLE_COLUMNS)],
            how="vertical",
        ).sort("customer_id")
        return merged, deleted

    def _replace_all(self, tables: Mapping[str, pl.DataFrame]) -> None:
        """Every file staged to a temp name, then all renamed (the JSON sink's writer)."""
        files = [
            (self.directory / name, _parquet_bytes(frame), 0o644, name)
            for name, frame in tables.items()
        ]
        write_together(files, before_commit=self._before_replace or _nothing)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(self.directory / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            attempts = max(1, int(self.lock_wait / _LOCK_POLL) + 1)
            for attempt in range(attempts):
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if attempt + 1 < attempts:
                        self._sleep(_LOCK_POLL)
            else:
                raise SinkError(
                    f"parquet:{self.directory} is in use by another run "
                    f"(waited {self.lock_wait:g} s)",
                    hint="wait for the other run to finish, then run again",
                )
            yield
        finally:
            os.close(fd)  # closing releases the lock


def _parquet_bytes(frame: pl.DataFrame) -> Callable[[], Iterator[bytes]]:
    def chunks() -> Iterator[bytes]:
        buffer = io.BytesIO()
        frame.write_parquet(buffer, compression="zstd")
        yield buffer.getvalue()

    return chunks


def _nothing() -> None:
    """No check before the renames."""


_BOOKKEEPING: dict[str, pl.DataType] = {
    "first_seen_at": UTC_US,
    "last_synced_at": UTC_US,
    "last_run_id": pl.String(),
    "is_deleted": pl.Boolean(),
    "deleted_at": UTC_US,
}
assert tuple(_BOOKKEEPING) == CUSTOMER_TABLE_COLUMNS[len(STAGING_COLUMNS) :]
