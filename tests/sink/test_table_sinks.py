"""DuckDB, Parquet and PostgreSQL destinations: upsert, soft delete, idempotence, rollback,
raw records, types. Each rule is stated once and runs against all three."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from customer_sync.errors import SinkError
from customer_sync.models import Merge, Rejection
from customer_sync.sink.tables import CUSTOMER_TABLE_COLUMNS

from .destination_support import (
    T0,
    Target,
    canonical_row,
    customer,
    data_columns,
    metadata,
    result_of,
    simple_result,
)


def test_first_sync_loads_every_column(target: Target) -> None:
    """A first sync stores the nine output fields, the canonical values and the bookkeeping."""
    target.sink().write(simple_result([1, 2]), metadata(T0, "run-a"))
    rows = target.customers()
    assert tuple(rows.columns) == CUSTOMER_TABLE_COLUMNS
    first = rows.row(0, named=True)
    assert first["customer_id"] == 1
    assert first["full_name"] == "Customer 0001"
    assert first["email"] == "c1@example.com"
    assert first["country"] == "US"
    assert first["lifetime_value"] == Decimal("1234.50")
    assert first["created_at"].isoformat() == "2024-01-02T03:04:05+00:00"
    assert first["quality_issues"] == []
    assert first["data_quality_band"] == "high"
    assert first["first_seen_at"] == first["last_synced_at"] == T0
    assert first["last_run_id"] == "run-a"
    assert first["is_deleted"] is False
    assert first["deleted_at"] is None


def test_upsert_updates_inserts_and_soft_deletes(target: Target) -> None:
    """The next full sync updates present customers, inserts new ones and soft-deletes the
    absent ones, keeping first_seen_at; nothing is physically deleted."""
    target.sink().write(simple_result([1, 2, 3]), metadata(T0))
    later = T0 + timedelta(days=1)
    changed = result_of(
        [customer(2, customer_tier="enterprise"), customer(3), customer(4)],
        [canonical_row(2, plan="enterprise"), canonical_row(3), canonical_row(4)],
    )
    target.sink().write(changed, metadata(later, "run-b"))
    rows = {r["customer_id"]: r for r in target.customers().iter_rows(named=True)}
    assert sorted(rows) == [1, 2, 3, 4]
    assert rows[1]["is_deleted"] is True
    assert rows[1]["deleted_at"] == later
    assert rows[1]["last_run_id"] == "run-b"  # the run that deleted it
    assert rows[2]["customer_tier"] == "enterprise"
    assert rows[2]["plan"] == "enterprise"
    assert rows[2]["first_seen_at"] == T0
    assert rows[2]["last_synced_at"] == later
    assert rows[4]["first_seen_at"] == later
    assert rows[3]["last_synced_at"] == T0  # unchanged: keeps the stamp of the run that wrote it
    assert rows[3]["last_run_id"] != "run-b"
    assert [r["is_deleted"] for r in (rows[2], rows[3], rows[4])] == [False, False, False]
    runs = target.read("sync_runs").sort("started_at")
    assert runs.get_column("deleted").to_list() == [0, 1]


def test_deleted_customer_who_returns_is_undeleted(target: Target) -> None:
    """A soft-deleted customer present again is undeleted; deleted_at of one still absent
    stays the time it disappeared."""
    target.sink().write(simple_result([1, 2, 3]), metadata(T0))
    target.sink().write(simple_result([3]), metadata(T0 + timedelta(hours=1)))
    target.sink().write(simple_result([1, 3]), metadata(T0 + timedelta(hours=2)))
    rows = {r["customer_id"]: r for r in target.customers().iter_rows(named=True)}
    assert rows[1]["is_deleted"] is False
    assert rows[1]["deleted_at"] is None
    assert rows[1]["first_seen_at"] == T0
    assert rows[2]["is_deleted"] is True
    assert rows[2]["deleted_at"] == T0 + timedelta(hours=1)


def test_same_sync_twice_is_idempotent(target: Target) -> None:
    """The same sync twice gives the very same customers table (no row is rewritten) and
    two sync_runs rows."""
    target.sink().write(simple_result([4]), metadata(T0 - timedelta(hours=1)))
    result = simple_result([5, 6, 7])
    target.sink().write(result, metadata(T0))
    before = target.customers()
    target.sink().write(result, metadata(T0 + timedelta(minutes=5)))
    assert target.customers().equals(before)
    assert data_columns(target.customers()).equals(data_columns(before))
    assert target.read("sync_runs").height == 3


class Injected(Exception):
    pass


@pytest.mark.parametrize("failure", [Injected, KeyboardInterrupt])
def test_failure_before_commit_changes_nothing(
    target: Target, failure: type[BaseException]
) -> None:
    """A failure (or Ctrl-C) injected between the upsert and the commit rolls everything
    back: every table is as before, and the next run works."""
    target.sink().write(simple_result([1, 2]), metadata(T0))
    tables = ("customers", "sync_runs", "rejected_records", "customer_lineage")
    before = {name: target.read(name) for name in tables}

    def fail() -> None:
        raise failure

    sink = target.sink(before_commit=fail)
    other = result_of(
        [customer(3)], [canonical_row(3)],
        rejected=[Rejection("missing_id", {"id": None}, 0)],
        merges=[Merge(3, 3, "same_id", 1)],
    )
    with pytest.raises(failure):
        sink.write(other, metadata(T0 + timedelta(days=1)))
    for name in tables:
        assert target.read(name).equals(before[name]), name
    target.sink().write(other, metadata(T0 + timedelta(days=2)))  # and it still works after
    assert target.read("sync_runs").height == 2


def test_rejected_and_lineage_rows_are_appended_exactly(target: Target) -> None:
    """Rejected records keep the raw record as exact JSON (big integers too); lineage keeps
    the survivor, the merged id and the match rule."""
    big = 123456789012345678901234567890
    result = result_of(
        [customer(1)], [canonical_row(1)],
        rejected=[Rejection("invalid_id: 'x'", {"id": "x", "n": big, "s": "é\n"}, 4)],
        merges=[Merge(1, 9, "same_email", 2)],
    )
    target.sink().write(result, metadata(T0, "run-r"))
    rejected = target.read("rejected_records").row(0, named=True)
    assert rejected["run_id"] == "run-r"
    assert rejected["position"] == 4
    assert rejected["reason"] == "invalid_id: 'x'"
    record = rejected["record"]
    assert str(big) in (record if isinstance(record, str) else json.dumps(record))
    lineage = target.read("customer_lineage").row(0, named=True)
    assert (lineage["survivor_id"], lineage["merged_id"], lineage["match_rule"]) == (
        1, 9, "same_email"
    )


def test_rejected_lineage_and_runs_accumulate_across_runs(target: Target) -> None:
    """Every run's rejected records, merges and sync_runs row are kept (appended), in
    Parquet as in the databases."""
    for number, at in ((1, T0), (2, T0 + timedelta(hours=1))):
        result = result_of(
            [customer(1)], [canonical_row(1)],
            rejected=[Rejection("missing_id", {"n": number}, 3)],
            merges=[Merge(1, 10 + number, "same_id", 5)],
        )
        target.sink().write(result, metadata(at, f"run-{number}"))
    for table in ("rejected_records", "customer_lineage", "sync_runs"):
        runs = sorted(target.read(table).get_column("run_id").to_list())
        assert runs == ["run-1", "run-2"], table
    merged = sorted(target.read("customer_lineage").get_column("merged_id").to_list())
    assert merged == [11, 12]


def test_sync_runs_records_the_run(target: Target) -> None:
    """sync_runs has the run id, times, masked source, counts, quality and run stats."""
    result = result_of([customer(1)], [canonical_row(1)],
                       rejected=[Rejection("missing_id", {}, 0)])
    target.sink().write(result, metadata(T0, "run-s"))
    run = target.read("sync_runs").row(0, named=True)
    assert run["run_id"] == "run-s"
    assert run["status"] == "succeeded"
    assert run["started_at"] == T0
    assert run["finished_at"] == T0 + timedelta(seconds=5)
    assert run["source_url"] == "http://***@127.0.0.1:1/api"
    assert (run["records_in"], run["exported"], run["merged"], run["rejected"]) == (2, 1, 0, 1)
    assert (run["pages"], run["requests"], run["rate_limited"]) == (2, 3, 0)
    assert run["waited_seconds"] == 1.5
    assert run["drift_detected"] is False
    assert "http_503" in str(run["retries"])
    assert "high_quality" in str(run["quality_summary"])


def test_sync_runs_records_the_sync_mode_marks_and_counts(target: Target) -> None:
    """sync_runs has the run's sync mode, the mark used, the new mark and the counts of new,
    updated, unchanged and deleted customers (issue 14); all null without them."""
    target.sink().write(simple_result([1]), metadata(T0, "run-plain"))
    incremental = {
        **metadata(T0 + timedelta(hours=1), "run-inc"),
        "sync": {
            "mode": "incremental", "mark_used": "2026-03-14T14:53:20Z",
            "new_mark": "2026-03-14T15:53:20Z",
            "customers": {"new": 2, "updated": 8, "unchanged": 990, "deleted": None},
        },
    }
    target.sink().write(simple_result([1, 2]), incremental)
    full = {
        **metadata(T0 + timedelta(hours=2), "run-full"),
        "sync": {"mode": "full", "mark_used": None, "new_mark": "2026-03-14T16:53:20Z",
                 "customers": {"new": 0, "updated": 1, "unchanged": 996, "deleted": 3}},
    }
    target.sink().write(simple_result([2]), full)
    runs = {r["run_id"]: r for r in target.read("sync_runs").iter_rows(named=True)}
    columns = ("sync_mode", "mark_used", "new_mark", "customers_new", "customers_updated",
               "customers_unchanged", "customers_deleted")
    assert [runs["run-plain"][c] for c in columns] == [None] * 7
    assert [runs["run-inc"][c] for c in columns] == [
        "incremental", datetime(2026, 3, 14, 14, 53, 20, tzinfo=UTC),
        datetime(2026, 3, 14, 15, 53, 20, tzinfo=UTC), 2, 8, 990, None,
    ]
    assert [runs["run-full"][c] for c in columns] == [
        "full", None, datetime(2026, 3, 14, 16, 53, 20, tzinfo=UTC), 0, 1, 996, 3,
    ]
    assert (runs["run-full"]["deleted"], runs["run-inc"]["deleted"]) == (1, 0)


def test_result_without_canonical_values_still_loads(target: Target) -> None:
    """Without the transform's canonical frame the canonical columns are null and the band
    comes from the score."""
    result = result_of([customer(1, data_quality_score=75)])
    target.sink().write(result, metadata(T0))
    row = target.customers().row(0, named=True)
    assert row["email"] is None
    assert row["data_quality_band"] == "medium"


def test_database_types_and_constraints(db_target: Target) -> None:
    """Timestamps with time zone, DECIMAL(18,2) money, and CHECKs on the derived fields."""
    db_target.sink().write(simple_result([1]), metadata(T0))
    sql = db_target.sql
    if db_target.kind == "duckdb":
        types = dict(sql("SELECT column_name, data_type FROM information_schema.columns "
                         "WHERE table_name = 'customers'"))
        assert types["created_at"] == "TIMESTAMP WITH TIME ZONE"
        assert types["lifetime_value"] == "DECIMAL(18,2)"
        assert types["quality_issues"] == "VARCHAR[]"
    else:
        types = dict(sql("SELECT column_name, data_type FROM information_schema.columns "
                         "WHERE table_name = 'customers' AND table_schema = 'analytics'"))
        assert types["created_at"] == "timestamp with time zone"
        assert types["lifetime_value"] == "numeric"
        assert types["quality_issues"] == "ARRAY"
        assert sql("SELECT numeric_precision, numeric_scale FROM information_schema.columns "
                   "WHERE table_name = 'customers' AND column_name = 'lifetime_value'") == [
            (18, 2)
        ]
    with pytest.raises(Exception, match=r"(?i)check"):
        sql("UPDATE customers SET customer_tier = 'gold' WHERE customer_id = 1")


def test_unwritable_destination_fails_before_fetching(tmp_path: Path) -> None:
    """A DuckDB file or Parquet folder in a missing directory fails the early check."""
    from customer_sync.sink.duckdb_sink import DuckDBSink
    from customer_sync.sink.parquet_sink import ParquetSink

    with pytest.raises(SinkError, match="does not exist"):
        DuckDBSink(tmp_path / "missing" / "c.duckdb").check_writable()
    with pytest.raises(SinkError, match="not a directory"):
        ParquetSink(tmp_path / "missing" / "tables").check_writable()
