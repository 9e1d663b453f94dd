"""The analytics tables, declared once for DuckDB, PostgreSQL and Parquet.

    customers            one row per customer ever seen: the nine output fields, the cleaned
                         canonical values, the quality band and issues, and bookkeeping
                         (first_seen_at, last_synced_at, last_run_id, is_deleted, deleted_at)
    rejected_records     run_id, position, reason, the raw record as JSON text (exact)
    customer_lineage     run_id, survivor_id, merged_id, match_rule, position
    sync_runs            one row per successful run: times, source, counts, quality, stats,
                         sync mode, marks and change counts (schema version 2)
    schema_migrations    the schema versions applied, one row each

``docs/tables.md`` documents every column; a test keeps it, this module and
``docs/output.schema.json`` in step. The DDL below is valid in both DuckDB and PostgreSQL;
``{s}`` is the schema prefix (``"customer_sync".`` in PostgreSQL, empty in DuckDB).

The frames built here are what every database sink loads (DuckDB through Arrow, PostgreSQL
through COPY) and what the Parquet sink writes: one shape, three destinations.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl

from .. import __version__
from ..errors import SinkError
from ..frames import CUSTOMER_SCHEMA
from ..jsoncodec import dumps_line
from ..models import CUSTOMER_FIELDS, ProcessResult
from ..transform.rules.quality import quality_band
from .summary import DEFAULT_RULES

__all__ = [
    "BOOKKEEPING_COLUMNS",
    "CANONICAL_SCHEMA",
    "CUSTOMER_TABLE_COLUMNS",
    "DERIVED_VALUES",
    "LINEAGE_SCHEMA",
    "MIGRATIONS",
    "REJECTED_SCHEMA",
    "RUNS_SCHEMA",
    "SCHEMA_VERSION",
    "VALUE_COLUMNS",
    "Migration",
    "RunInfo",
    "SchemaVersionError",
    "customers_frame",
    "lineage_frame",
    "raw_json",
    "rejected_frame",
    "runs_frame",
    "unchanged_sql",
]

#: Allowed values of the derived fields (CHECK constraints; docs/output.schema.json agrees).
DERIVED_VALUES: dict[str, tuple[str, ...]] = {
    "engagement_level": ("high", "medium", "low", "unknown"),
    "activity_status": ("active", "inactive", "unknown"),
    "acquisition_channel": ("mobile", "email", "website", "unknown"),
    "market_segment": ("US-West", "US-East", "EU", "APAC", "Other", "unknown"),
    "customer_tier": ("enterprise", "premium", "basic", "unknown"),
    "data_quality_band": ("high", "medium", "low"),
}

UTC_US = pl.Datetime("us", "UTC")
MONEY = pl.Decimal(18, 2)

#: The cleaned canonical values, as ``ProcessResult.canonical`` carries them (after
#: ``customer_id``), with the types the tables store.
CANONICAL_SCHEMA: dict[str, pl.DataType] = {
    "email": pl.String(),
    "first_name": pl.String(),
    "last_name": pl.String(),
    "country": pl.String(),
    "region": pl.String(),
    "plan": pl.String(),
    "lifetime_value": MONEY,
    "sessions_30d": pl.Int64(),
    "orders_count": pl.Int64(),
    "signup_source": pl.String(),
    "created_at": UTC_US,
    "last_login_at": UTC_US,
    "updated_at": UTC_US,
    "data_quality_band": pl.String(),
    "quality_issues": pl.List(pl.String()),
}

BOOKKEEPING_COLUMNS = ("first_seen_at", "last_synced_at", "last_run_id", "is_deleted", "deleted_at")

#: Every column of ``customers``, in table order.
CUSTOMER_TABLE_COLUMNS: tuple[str, ...] = (
    *CUSTOMER_FIELDS,
    *CANONICAL_SCHEMA,
    *BOOKKEEPING_COLUMNS,
)

#: The columns a run loads (everything but the bookkeeping, which the merge computes).
STAGING_COLUMNS: tuple[str, ...] = (*CUSTOMER_FIELDS, *CANONICAL_SCHEMA)

#: The columns whose change makes a run rewrite a customer's row (and stamp it with its
#: ``last_synced_at`` and ``last_run_id``): everything loaded but the key.
VALUE_COLUMNS: tuple[str, ...] = STAGING_COLUMNS[1:]


def unchanged_sql(old: str, new: str) -> str:
    """SQL true when row ``old`` holds the same values as row ``new`` (nulls equal)."""
    return " AND ".join(f"{old}.{c} IS NOT DISTINCT FROM {new}.{c}" for c in VALUE_COLUMNS)


def _one_of(column: str) -> str:
    values = ", ".join(f"'{v}'" for v in DERIVED_VALUES[column])
    return f"CHECK ({column} IN ({values}))"


_CUSTOMERS_DDL = f"""
CREATE TABLE {{s}}customers (
    customer_id          BIGINT PRIMARY KEY CHECK (customer_id > 0),
    full_name            TEXT NOT NULL,
    email_domain         TEXT NOT NULL,
    engagement_level     TEXT NOT NULL {_one_of("engagement_level")},
    activity_status      TEXT NOT NULL {_one_of("activity_status")},
    acquisition_channel  TEXT NOT NULL {_one_of("acquisition_channel")},
    market_segment       TEXT NOT NULL {_one_of("market_segment")},
    customer_tier        TEXT NOT NULL {_one_of("customer_tier")},
    data_quality_score   INTEGER NOT NULL CHECK (data_quality_score BETWEEN 0 AND 100),
    email                TEXT,
    first_name           TEXT,
    last_name            TEXT,
    country              TEXT CHECK (length(country) = 2),
    region               TEXT,
    plan                 TEXT,
    lifetime_value       DECIMAL(18,2) CHECK (lifetime_value >= 0),
    sessions_30d         BIGINT CHECK (sessions_30d >= 0),
    orders_count         BIGINT CHECK (orders_count >= 0),
    signup_source        TEXT,
    created_at           TIMESTAMPTZ,
    last_login_at        TIMESTAMPTZ,
    updated_at           TIMESTAMPTZ,
    data_quality_band    TEXT NOT NULL {_one_of("data_quality_band")},
    quality_issues       TEXT[],
    first_seen_at        TIMESTAMPTZ NOT NULL,
    last_synced_at       TIMESTAMPTZ NOT NULL,
    last_run_id          TEXT NOT NULL,
    is_deleted           BOOLEAN NOT NULL DEFAULT false,
    deleted_at           TIMESTAMPTZ,
    CHECK (is_deleted = (deleted_at IS NOT NULL))
)"""

_REJECTED_DDL = """
CREATE TABLE {s}rejected_records (
    run_id      TEXT NOT NULL,
    position    BIGINT NOT NULL,
    reason      TEXT NOT NULL,
    record      JSON,
    PRIMARY KEY (run_id, position)
)"""

_LINEAGE_DDL = """
CREATE TABLE {s}customer_lineage (
    run_id       TEXT NOT NULL,
    survivor_id  BIGINT NOT NULL,
    merged_id    BIGINT NOT NULL,
    match_rule   TEXT NOT NULL CHECK (match_rule IN ('same_id', 'same_email')),
    position     BIGINT NOT NULL,
    PRIMARY KEY (run_id, position)
)"""

_RUNS_DDL = """
CREATE TABLE {s}sync_runs (
    run_id            TEXT PRIMARY KEY,
    started_at        TIMESTAMPTZ NOT NULL,
    finished_at       TIMESTAMPTZ NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('succeeded')),
    as_of             TIMESTAMPTZ NOT NULL,
    source_url        TEXT NOT NULL,
    records_in        BIGINT NOT NULL,
    exported          BIGINT NOT NULL,
    merged            BIGINT NOT NULL,
    rejected          BIGINT NOT NULL,
    deleted           BIGINT NOT NULL,
    quality_summary   JSON NOT NULL,
    pages             BIGINT NOT NULL,
    requests          BIGINT NOT NULL,
    retries           JSON NOT NULL,
    rate_limited      BIGINT NOT NULL,
    waited_seconds    DOUBLE PRECISION NOT NULL,
    drift_detected    BOOLEAN NOT NULL,
    run_stats         JSON NOT NULL,
    pipeline_version  TEXT NOT NULL
)"""

#: Version 2 (issue 14): the sync mode, the marks and the change counts of each run; null
#: in the rows of runs written before.
_RUNS_SYNC_COLUMNS = (
    ("sync_mode", "TEXT"),
    ("mark_used", "TIMESTAMPTZ"),
    ("new_mark", "TIMESTAMPTZ"),
    ("customers_new", "BIGINT"),
    ("customers_updated", "BIGINT"),
    ("customers_unchanged", "BIGINT"),
    ("customers_deleted", "BIGINT"),
)

MIGRATIONS_DDL = """
CREATE TABLE IF NOT EXISTS {s}schema_migrations (
    version      INTEGER PRIMARY KEY,
    description  TEXT NOT NULL,
    applied_at   TIMESTAMPTZ NOT NULL
)"""


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema version: statements that take the previous version to this one.

    Migrations are additive (new tables, new nullable columns, new indexes), so an older
    table upgrades in place and keeps every row.
    """

    version: int
    description: str
    statements: tuple[str, ...]


#: Every schema version this program knows, oldest first.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "customers, rejected_records, customer_lineage, sync_runs",
        (_CUSTOMERS_DDL, _REJECTED_DDL, _LINEAGE_DDL, _RUNS_DDL),
    ),
    Migration(
        2,
        "sync_runs: sync_mode, mark_used, new_mark and the customers new, updated, "
        "unchanged and deleted",
        tuple(
            f"ALTER TABLE {{s}}sync_runs ADD COLUMN {name} {sql_type}"
            for name, sql_type in _RUNS_SYNC_COLUMNS
        ),
    ),
)

SCHEMA_VERSION = MIGRATIONS[-1].version


class SchemaVersionError(SinkError):
    """The destination's tables are newer than this program: it refuses to touch them."""


def plan_migrations(
    applied: int | None, migrations: Sequence[Migration], where: str
) -> list[Migration]:
    """The migrations still to apply on a destination at version ``applied`` (None: empty).

    Refuses a destination newer than this program: an older program never writes a newer
    schema, which it would not understand.
    """
    known = migrations[-1].version
    if applied is not None and applied > known:
        raise SchemaVersionError(
            f"{where} has schema version {applied}, newer than this program's {known}",
            hint="upgrade customer_sync, or write to another destination",
        )
    return [m for m in migrations if applied is None or m.version > applied]


@dataclass(frozen=True, slots=True)
class RunInfo:
    """One run as the tables record it, read from the metadata the pipeline built."""

    run_id: str
    started_at: datetime
    finished_at: datetime
    as_of: datetime
    source_url: str
    metadata: Mapping[str, Any]

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any], *, new_id: Callable[[], str]) -> RunInfo:
        finished = _timestamp(metadata.get("export_timestamp"))
        source = metadata.get("source")
        url = source.get("url", "") if isinstance(source, Mapping) else ""
        return cls(
            run_id=str(metadata.get("run_id") or new_id()),
            started_at=_timestamp(metadata.get("started_at"), finished),
            finished_at=finished,
            as_of=_timestamp(metadata.get("as_of"), finished),
            source_url=str(url),
            metadata=metadata,
        )


def _timestamp(text: Any, default: datetime | None = None) -> datetime:
    if isinstance(text, str):
        return datetime.fromisoformat(text).astimezone(UTC)
    return default if default is not None else datetime.now(UTC)


def customers_frame(result: ProcessResult) -> pl.DataFrame:
    """The customers of this run with every loaded column (:data:`STAGING_COLUMNS`).

    The canonical values come from ``result.canonical`` (same rows, same order as
    ``result.frame``). A result without it (one built around a bare frame) loads them as
    null, with the band derived from the score.
    """
    frame = result.frame.select(
        [pl.col(name).cast(dtype) for name, dtype in CUSTOMER_SCHEMA.items()]
    )
    canonical = result.canonical
    columns: list[pl.Series] = []
    if canonical is not None and canonical.height == frame.height:
        if not canonical.get_column("customer_id").equals(frame.get_column("customer_id")):
            raise SinkError(
                "canonical values are not aligned with the exported customers",
                hint="this is a bug; please report it",
            )
        for name, dtype in CANONICAL_SCHEMA.items():
            if name in canonical.columns:
                columns.append(_coerce(canonical.get_column(name), dtype))
            else:
                columns.append(pl.Series(name, [None] * frame.height, dtype=dtype))
    else:
        columns = [
            pl.Series(name, [None] * frame.height, dtype=dtype)
            for name, dtype in CANONICAL_SCHEMA.items()
        ]
    out = frame.with_columns(columns)
    band = (
        pl.when(pl.col("data_quality_score") >= DEFAULT_RULES.high_quality_min)
        .then(pl.lit("high"))
        .when(pl.col("data_quality_score") >= DEFAULT_RULES.medium_quality_min)
        .then(pl.lit("medium"))
        .otherwise(pl.lit("low"))
    )
    given = pl.col("data_quality_band").str.replace("_quality$", "")
    return out.with_columns(
        pl.when(given.is_in(list(DERIVED_VALUES["data_quality_band"])))
        .then(given)
        .otherwise(band)
        .alias("data_quality_band")
    ).select(STAGING_COLUMNS)


def _coerce(series: pl.Series, dtype: pl.DataType) -> pl.Series:
    """A canonical column in the table's type (UTC timestamps, money rounded to cents)."""
    if dtype == UTC_US:
        if series.dtype == pl.String:
            series = series.str.to_datetime(time_zone="UTC", strict=False)
        if isinstance(series.dtype, pl.Datetime):
            if series.dtype.time_zone is None:
                series = series.dt.replace_time_zone("UTC")
            return series.dt.convert_time_zone("UTC").dt.cast_time_unit("us")
        return pl.Series(series.name, [None] * len(series), dtype=dtype)
    if dtype == MONEY and series.dtype != MONEY:
        return series.cast(pl.Float64).round(2).cast(MONEY)
    if dtype == pl.Int64 and series.dtype.is_float():
        series = series.round(0)
    return series.cast(dtype)


def raw_json(record: Any) -> str:
    """The raw record as strict JSON text, exactly (integers beyond 64 bits included)."""
    line = dumps_line({"record": record}).decode("utf-8").rstrip("\n")
    return line[len('{"record":') : -1]


REJECTED_SCHEMA: dict[str, pl.DataType] = {
    "run_id": pl.String(),
    "position": pl.Int64(),
    "reason": pl.String(),
    "record": pl.String(),
}

LINEAGE_SCHEMA: dict[str, pl.DataType] = {
    "run_id": pl.String(),
    "survivor_id": pl.Int64(),
    "merged_id": pl.Int64(),
    "match_rule": pl.String(),
    "position": pl.Int64(),
}


def rejected_frame(result: ProcessResult, run: RunInfo) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "run_id": [run.run_id] * len(result.rejected),
            "position": [r.position for r in result.rejected],
            "reason": [r.reason for r in result.rejected],
            "record": [raw_json(r.record) for r in result.rejected],
        },
        schema=REJECTED_SCHEMA,
    )


def lineage_frame(result: ProcessResult, run: RunInfo) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "run_id": [run.run_id] * len(result.merges),
            "survivor_id": [m.survivor_id for m in result.merges],
            "merged_id": [m.merged_id for m in result.merges],
            "match_rule": [m.reason for m in result.merges],
            "position": [m.position for m in result.merges],
        },
        schema=LINEAGE_SCHEMA,
    )


RUNS_SCHEMA: dict[str, pl.DataType] = {
    "run_id": pl.String(),
    "started_at": UTC_US,
    "finished_at": UTC_US,
    "status": pl.String(),
    "as_of": UTC_US,
    "source_url": pl.String(),
    "records_in": pl.Int64(),
    "exported": pl.Int64(),
    "merged": pl.Int64(),
    "rejected": pl.Int64(),
    "deleted": pl.Int64(),
    "quality_summary": pl.String(),
    "pages": pl.Int64(),
    "requests": pl.Int64(),
    "retries": pl.String(),
    "rate_limited": pl.Int64(),
    "waited_seconds": pl.Float64(),
    "drift_detected": pl.Boolean(),
    "run_stats": pl.String(),
    "pipeline_version": pl.String(),
    "sync_mode": pl.String(),
    "mark_used": UTC_US,
    "new_mark": UTC_US,
    "customers_new": pl.Int64(),
    "customers_updated": pl.Int64(),
    "customers_unchanged": pl.Int64(),
    "customers_deleted": pl.Int64(),
}
assert tuple(RUNS_SCHEMA)[-len(_RUNS_SYNC_COLUMNS) :] == tuple(n for n, _ in _RUNS_SYNC_COLUMNS)


def runs_frame(result: ProcessResult, run: RunInfo, *, deleted: int) -> pl.DataFrame:
    """The run's one ``sync_runs`` row."""
    c = result.counts
    meta = run.metadata
    stats = meta.get("run_stats") if isinstance(meta.get("run_stats"), Mapping) else {}
    assert isinstance(stats, Mapping)
    quality = meta.get("data_quality_summary") or {}
    row = {
        "run_id": run.run_id,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "status": "succeeded",
        "as_of": run.as_of,
        "source_url": run.source_url,
        "records_in": c.records_in,
        "exported": c.exported,
        "merged": c.duplicates_merged,
        "rejected": c.rejected,
        "deleted": deleted,
        "quality_summary": raw_json(quality),
        "pages": int(stats.get("pages", 0)),
        "requests": int(stats.get("requests", 0)),
        "retries": raw_json(stats.get("retries", {})),
        "rate_limited": int(stats.get("rate_limited", 0)),
        "waited_seconds": float(stats.get("waited_seconds", 0.0)),
        "drift_detected": bool(stats.get("drift_detected", False)),
        "run_stats": raw_json(stats),
        "pipeline_version": str(meta.get("pipeline_version", __version__)),
        **_sync_columns(meta.get("sync")),
    }
    return pl.DataFrame([row], schema=RUNS_SCHEMA)


def _sync_columns(sync: Any) -> dict[str, Any]:
    """The run's ``metadata.sync`` (mode, marks, change counts) as ``sync_runs`` columns;
    null where the metadata has none (a run built without the incremental machinery)."""
    sync = sync if isinstance(sync, Mapping) else {}
    counts = sync.get("customers") if isinstance(sync.get("customers"), Mapping) else {}
    assert isinstance(counts, Mapping)

    def mark(key: str) -> datetime | None:
        text = sync.get(key)
        return _timestamp(text) if isinstance(text, str) and text else None

    def count(key: str) -> int | None:
        value = counts.get(key)
        return int(value) if isinstance(value, int) and not isinstance(value, bool) else None

    mode = sync.get("mode")
    return {
        "sync_mode": str(mode) if mode else None,
        "mark_used": mark("mark_used"),
        "new_mark": mark("new_mark"),
        "customers_new": count("new"),
        "customers_updated": count("updated"),
        "customers_unchanged": count("unchanged"),
        "customers_deleted": count("deleted"),
    }


def band_of(score: int) -> str:
    """The table's band of a score: ``high``, ``medium`` or ``low`` (the transform's rule)."""
    return quality_band(score, DEFAULT_RULES)
