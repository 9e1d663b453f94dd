"""The PostgreSQL sink: the analytics tables in one schema, one transaction per run.

Each run, in one transaction:

1. take a transaction-level advisory lock for the schema (``pg_advisory_xact_lock``), so
   two runs against one schema take turns; a run that waits longer than ``lock_wait``
   fails with exit 1 saying the schema is in use. The lock ends with the transaction;
2. create the schema if needed and bring it up to date (``schema_migrations``; a newer
   schema is refused);
3. ``COPY`` the run's customers into a temp staging table (CSV encoded by Polars in
   chunks), then ``INSERT … ON CONFLICT (customer_id) DO UPDATE`` of the new, changed and
   returning customers (a hash join with ``customers`` leaves out the unchanged ones, which
   keep their stamp) and, on a full sync, the soft-delete ``UPDATE`` of the absent ones;
4. append ``rejected_records``, ``customer_lineage`` and the ``sync_runs`` row;
5. commit. Any failure rolls everything back: the previous state stays whole.

The password never leaves the connection: errors show the URL masked and are scrubbed.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import polars as pl
import psycopg
from psycopg import sql

from ..destinations import Destination
from ..errors import SinkError
from ..models import ProcessResult
from ..redaction import scrub
from .base import SinkReport
from .tables import (
    CUSTOMER_TABLE_COLUMNS,
    MIGRATIONS,
    MIGRATIONS_DDL,
    STAGING_COLUMNS,
    VALUE_COLUMNS,
    Migration,
    RunInfo,
    customers_frame,
    lineage_frame,
    plan_migrations,
    rejected_frame,
    runs_frame,
    unchanged_sql,
)

__all__ = ["PostgresSink"]

_COPY_ROWS = 100_000  # rows per CSV chunk sent to COPY
_NULL = r"\N"


class PostgresSink:
    """Writes the analytics tables into one PostgreSQL schema."""

    def __init__(
        self,
        destination: Destination,
        *,
        connect_timeout: float = 10.0,
        lock_wait: float = 60.0,
        migrations: Sequence[Migration] = MIGRATIONS,
        before_commit: Callable[[], None] | None = None,
        full_sync: bool = True,
    ) -> None:
        self.destination = destination
        self.schema = destination.schema
        self.connect_timeout = connect_timeout
        self.lock_wait = lock_wait
        self._migrations = tuple(migrations)
        self._before_commit = before_commit
        self.full_sync = full_sync
        self._password = urlsplit(destination.url).password or ""

    def __repr__(self) -> str:
        return f"PostgresSink({self.destination.display!r})"

    # --- Sink -------------------------------------------------------------------------
    def check_writable(self) -> None:
        with self._connect() as conn:
            try:
                plan_migrations(_applied(conn, self.schema), self._migrations, self._where)
            except psycopg.Error as exc:
                raise self._error("cannot read", exc) from exc

    def write(self, result: ProcessResult, metadata: Mapping[str, Any]) -> SinkReport:
        run = RunInfo.from_metadata(metadata, new_id=lambda: uuid.uuid4().hex)
        staging = customers_frame(result)
        with self._connect() as conn:
            try:
                with conn.transaction():
                    self._lock(conn)
                    self._migrate(conn, run)
                    deleted = self._merge_customers(conn, staging, run)
                    self._append(conn, "rejected_records", rejected_frame(result, run))
                    self._append(conn, "customer_lineage", lineage_frame(result, run))
                    self._append(conn, "sync_runs", runs_frame(result, run, deleted=deleted))
                    if self._before_commit is not None:
                        self._before_commit()
            except psycopg.errors.LockNotAvailable as exc:
                raise SinkError(
                    f"{self._where} is in use by another run (waited {self.lock_wait:g} s)",
                    hint="wait for the other run to finish, then run again",
                ) from exc
            except psycopg.Error as exc:
                raise self._error("cannot write", exc) from exc
        return SinkReport(target=self.destination.display)

    # --- steps ------------------------------------------------------------------------
    @property
    def _where(self) -> str:
        return f"{self.destination.display} (schema {self.schema})"

    def _error(self, what: str, exc: BaseException) -> SinkError:
        text = scrub(str(exc).strip().splitlines()[0] if str(exc).strip() else "", [
            self._password
        ])
        return SinkError(
            f"{what} {self._where}: {text or type(exc).__name__}",
            hint="nothing was changed; the previous state is intact",
        )

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(
                self.destination.conninfo,
                connect_timeout=max(1, round(self.connect_timeout)),
                application_name="customer_sync",
            )
        except psycopg.Error as exc:
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            reason = scrub(lines[0].removeprefix("connection failed: ") if lines else "", [
                self._password
            ])
            raise SinkError(
                f"cannot connect to {self.destination.display}: {reason}",
                hint="check the host, port, database and credentials, and that the server runs",
            ) from exc

    def _lock(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute(
            sql.SQL("SET LOCAL lock_timeout = {}").format(
                sql.Literal(f"{int(self.lock_wait * 1000)}ms")
            )
        )
        conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            (f"customer_sync:{self.schema}",),
        )

    def _prefix(self) -> str:
        return sql.Identifier(self.schema).as_string(None) + "."

    def _migrate(self, conn: psycopg.Connection[Any], run: RunInfo) -> None:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema)))
        prefix = self._prefix()
        conn.execute(MIGRATIONS_DDL.format(s=prefix).encode())
        applied = _applied(conn, self.schema)
        for migration in plan_migrations(applied, self._migrations, self._where):
            for statement in migration.statements:
                conn.execute(statement.format(s=prefix).encode())
            conn.execute(
                f"INSERT INTO {prefix}schema_migrations VALUES (%s, %s, %s)".encode(),
                (migration.version, migration.description, run.started_at),
            )

    def _merge_customers(
        self, conn: psycopg.Connection[Any], staging: pl.DataFrame, run: RunInfo
    ) -> int:
        """COPY into staging, upsert, soft-delete; return how many were newly deleted."""
        prefix = self._prefix()
        loaded = ", ".join(STAGING_COLUMNS)
        conn.execute(
            f"CREATE TEMP TABLE staging ON COMMIT DROP AS "
            f"SELECT {loaded} FROM {prefix}customers WITH NO DATA".encode()
        )
        with conn.cursor().copy(
            f"COPY staging ({loaded}) FROM STDIN (FORMAT csv, NULL '{_NULL}')".encode()
        ) as copy:
            for chunk in _csv_chunks(staging):
                copy.write(chunk)
        conn.execute(b"ANALYZE staging")
        conn.execute(b"SET LOCAL work_mem = '256MB'")  # the join with customers hashes in memory
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in VALUE_COLUMNS)
        table = f"{prefix}customers"
        conn.execute(
            f"""
            INSERT INTO {prefix}customers ({", ".join(CUSTOMER_TABLE_COLUMNS)})
            SELECT {", ".join(f"s.{c}" for c in STAGING_COLUMNS)}, %(at)s, %(at)s, %(run)s,
                   false, NULL
            FROM staging s LEFT JOIN {table} o USING (customer_id)
            WHERE o.customer_id IS NULL OR o.is_deleted OR NOT ({unchanged_sql("o", "s")})
            ORDER BY s.customer_id  -- in key order, the primary key index fills sequentially
            ON CONFLICT (customer_id) DO UPDATE SET {updates},
                last_synced_at = EXCLUDED.last_synced_at, last_run_id = EXCLUDED.last_run_id,
                is_deleted = false, deleted_at = NULL
            WHERE {table}.is_deleted OR NOT ({unchanged_sql(table, "EXCLUDED")})
            """.encode(),
            {"at": run.started_at, "run": run.run_id},
        )
        if not self.full_sync:
            return 0
        cursor = conn.execute(
            f"""
            UPDATE {prefix}customers c SET is_deleted = true, deleted_at = %(at)s,
                last_synced_at = %(at)s, last_run_id = %(run)s
            WHERE NOT c.is_deleted
              AND NOT EXISTS (SELECT 1 FROM staging s WHERE s.customer_id = c.customer_id)
            """.encode(),
            {"at": run.started_at, "run": run.run_id},
        )
        return max(cursor.rowcount, 0)

    def _append(self, conn: psycopg.Connection[Any], table: str, frame: pl.DataFrame) -> None:
        if frame.height == 0:
            return
        columns = ", ".join(frame.columns)
        with conn.cursor().copy(
            f"COPY {self._prefix()}{table} ({columns}) FROM STDIN "
            f"(FORMAT csv, NULL '{_NULL}')".encode()
        ) as copy:
            for chunk in _csv_chunks(frame):
                copy.write(chunk)


def _applied(conn: psycopg.Connection[Any], schema: str) -> int | None:
    """The schema's version, or None when it has no ``schema_migrations`` table yet."""
    row = conn.execute(
        "SELECT to_regclass(%s) IS NOT NULL", (f'"{schema}".schema_migrations',)
    ).fetchone()
    if not row or not row[0]:
        return None
    query = sql.SQL("SELECT max(version) FROM {}.schema_migrations").format(
        sql.Identifier(schema)
    )
    version = conn.execute(query).fetchone()
    return None if not version or version[0] is None else int(version[0])


def _csv_chunks(frame: pl.DataFrame) -> Iterator[bytes]:
    """The frame as PostgreSQL CSV, in chunks: lists become array literals, nulls ``\\N``."""
    lists = [name for name, dtype in frame.schema.items() if isinstance(dtype, pl.List)]
    if lists:
        frame = frame.with_columns(
            [
                (
                    pl.lit("{")
                    + pl.col(name)
                    .list.eval(
                        pl.lit('"')
                        + pl.element().str.replace_all("\\", "\\\\", literal=True)
                        .str.replace_all('"', '\\"', literal=True)
                        + pl.lit('"')
                    )
                    .list.join(",")
                    + pl.lit("}")
                ).alias(name)
                for name in lists
            ]
        )
    for chunk in frame.iter_slices(_COPY_ROWS):
        buffer = io.BytesIO()
        chunk.write_csv(
            buffer, include_header=False, null_value=_NULL, quote_style="necessary",
            datetime_format="%Y-%m-%dT%H:%M:%S%.6f%:z",
        )
        yield buffer.getvalue()
