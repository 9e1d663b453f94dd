"""ProcessResult.canonical, quality_details() and field_coverage(): the data the analytics
destinations and the quality report read (issues 13 and 15)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from customer_sync.frames import CANONICAL_SCHEMA
from customer_sync.models import (
    CANONICAL_FIELDS,
    SCORED_FIELDS,
    SOURCE_FIELDS,
    FieldQuality,
    ProcessCounts,
    ProcessResult,
)
from tests.test_data_processor import inputs, record, run


def test_canonical_row_of_a_messy_record() -> None:
    """Every canonical value is cleaned; invalid values are null; issues name the fields."""
    messy = {
        "id": "42",
        "email": "  Jean.Luc@Example.COM ",
        "first_name": "  jean-luc ",
        "last_name": 7,
        "created_at": "2020-02-02 10:00:00",
        "last_login_at": 1748599200000,
        "updated_at": "garbage",
        "sessions_30d": "12",
        "orders_count": "many",
        "lifetime_value": "USD 1,234.567",
        "signup_source": " iOS App ",
        "country": "United States",
        "region": "california",
        "plan": " PRO ",
    }
    (row,) = run([messy]).canonical.to_dicts()  # type: ignore[union-attr]
    assert row == {
        "customer_id": 42,
        "email": "jean.luc@example.com",
        "first_name": "Jean-Luc",
        "last_name": None,
        "country": "US",
        "region": "CA",
        "plan": "pro",
        "lifetime_value": 1234.57,
        "sessions_30d": 12,
        "orders_count": None,
        "signup_source": "ios app",
        "created_at": datetime(2020, 2, 2, 10, tzinfo=UTC),
        "last_login_at": datetime(2025, 5, 30, 10, tzinfo=UTC),
        "updated_at": None,
        "data_quality_band": "medium",
        "quality_issues": ["last_name", "orders_count"],
    }


@pytest.mark.parametrize("records", [[], ["junk"], [record(2), record(1, first_name="Zed")]])
def test_canonical_has_its_schema_and_the_frame_order(records: list[Any]) -> None:
    """canonical has CANONICAL_SCHEMA and one row per exported customer, in frame order."""
    result = run(records)
    assert result.canonical is not None
    assert result.canonical.schema == pl.Schema(CANONICAL_SCHEMA)
    assert tuple(result.canonical.columns) == CANONICAL_FIELDS
    assert result.canonical["customer_id"].to_list() == result.frame["customer_id"].to_list()


def test_canonical_columns_are_compact() -> None:
    """Repetitive text is Categorical, the band an Enum, the issues a list of an Enum."""
    for name in ("first_name", "last_name", "country", "region", "plan", "signup_source"):
        assert CANONICAL_SCHEMA[name] == pl.Categorical()
    assert CANONICAL_SCHEMA["data_quality_band"] == pl.Enum(["high", "medium", "low"])
    assert CANONICAL_SCHEMA["quality_issues"] == pl.List(pl.Enum(SCORED_FIELDS))


def test_field_quality_tells_missing_from_invalid() -> None:
    """Absent or null is missing; sent but unusable is invalid; the rest is present."""
    absent = record(1)
    del absent["email"]
    records = [
        absent,
        record(2, email=None, sessions_30d="many"),
        record(3, email="not-an-email", first_name=42),
        record(4),
    ]
    fields = run(records).quality.fields
    assert fields["email"] == FieldQuality(present=1, missing=2, invalid=1)
    assert fields["first_name"] == FieldQuality(present=3, missing=0, invalid=1)
    assert fields["sessions_30d"] == FieldQuality(present=3, missing=0, invalid=1)
    assert tuple(fields) == SCORED_FIELDS


def test_region_quality_counts_us_customers_only() -> None:
    """Region is scored, and counted, for US customers only."""
    records = [
        record(1, region=None),
        record(2, region="PR"),
        record(3),
        record(4, country="DE", region=None),
    ]
    assert run(records).quality.fields["region"] == FieldQuality(1, 1, 1)


def test_field_quality_counts_exported_customers_only() -> None:
    """Merged duplicates and rejected records do not count in the field quality."""
    records = [record(1), record(1, email=None, first_name=None), record("x", email=None)]
    fields = run(records).quality.fields
    assert fields["email"] == FieldQuality(present=1, missing=0, invalid=0)


def test_distributions_histogram_and_reasons() -> None:
    """Each derived field lists every value; scores bin by 10; reasons count by code."""
    records = [
        record(1),
        record(2, first_name=None, last_name=None, email=None),
        "junk",
        record("x"),
        record("y"),
        record(0),
    ]
    details = run(records).quality_details()
    assert details["distributions"]["data_quality_band"] == {"high": 1, "medium": 1, "low": 0}
    assert details["distributions"]["activity_status"] == {
        "active": 2,
        "inactive": 0,
        "unknown": 0,
    }
    assert set(details["distributions"]) == {
        "engagement_level",
        "activity_status",
        "acquisition_channel",
        "market_segment",
        "customer_tier",
        "data_quality_band",
    }
    histogram = details["score_histogram"]
    assert list(histogram) == [f"{n}-{n + 9}" for n in range(0, 90, 10)] + ["90-100"]
    assert (histogram["70-79"], histogram["90-100"], sum(histogram.values())) == (1, 1, 2)
    assert details["rejection_reasons"] == {
        "invalid_id": 2,
        "non_positive_id": 1,
        "not_an_object": 1,
    }


def test_field_coverage_counts_keys_in_every_dict_record() -> None:
    """Coverage is the share of dict records carrying the key, null or not, before dedup."""
    without_plan = record(1)
    del without_plan["plan"]
    records = [without_plan, record(1, plan=None), record("x"), {"id": 5}, "junk", None]
    coverage = run(records).field_coverage()
    assert tuple(coverage) == SOURCE_FIELDS
    assert coverage["id"] == 1.0
    assert coverage["plan"] == 0.5  # 2 of 4 dict records: null counts as sent
    assert coverage["email"] == 0.75
    third = run([{"id": 1}, {"id": 2, "email": None}, {"id": 3}]).field_coverage()
    assert third["email"] == 0.3333


def test_empty_run_has_zero_quality_and_coverage() -> None:
    """No records: every count is zero, every share 0.0, and the shape stays the same."""
    result = run([])
    assert set(result.field_coverage().values()) == {0.0}
    details = result.quality_details()
    assert details["fields"]["email"] == {"present": 0, "missing": 0, "invalid": 0}
    assert sum(details["score_histogram"].values()) == 0
    assert details["rejection_reasons"] == {}


def test_a_result_built_by_hand_has_no_canonical_values() -> None:
    """A ProcessResult around a bare frame has canonical None and empty quality sections."""
    result = ProcessResult(pl.DataFrame(), [], [], ProcessCounts(0, 0, 0, 0))
    assert result.canonical is None
    assert result.quality_details() == {
        "fields": {},
        "distributions": {},
        "score_histogram": {},
        "rejection_reasons": {},
    }
    assert result.field_coverage() == {}


@settings(max_examples=40)
@given(inputs)
def test_quality_adds_up_and_is_json_ready(records: list[Any]) -> None:
    """Per field present + missing + invalid = scored customers; bins sum to the exported
    customers; reasons sum to the rejected; the details survive a JSON round trip."""
    result = run(records)
    details = result.quality_details()
    exported = result.counts.exported
    us = int((result.canonical["country"].cast(pl.String) == "US").sum())  # type: ignore[index]
    for name, counts in details["fields"].items():
        assert sum(counts.values()) == (us if name == "region" else exported)
    assert sum(details["score_histogram"].values()) == exported
    for counts in details["distributions"].values():
        assert sum(counts.values()) == exported
    assert sum(details["rejection_reasons"].values()) == result.counts.rejected
    assert json.loads(json.dumps(details)) == details
    coverage = result.field_coverage()
    assert all(0.0 <= share <= 1.0 for share in coverage.values())
    assert json.loads(json.dumps(coverage)) == coverage


@settings(max_examples=30)
@given(st.lists(st.dictionaries(st.sampled_from(SOURCE_FIELDS), st.none() | st.just(1))))
def test_coverage_equals_counting_keys(records: list[dict[str, Any]]) -> None:
    """Coverage of any dict records equals counting the keys one record at a time."""
    coverage = run(records).field_coverage()
    for name in SOURCE_FIELDS:
        share = sum(name in raw for raw in records) / len(records) if records else 0.0
        assert coverage[name] == round(share, 4)


@settings(max_examples=60, deadline=None)
@given(inputs)
def test_without_canonical_values_the_result_is_otherwise_the_same(records: list[Any]) -> None:
    """A JSON-only run skips the canonical values: customers, merges, rejections, quality
    and coverage are exactly those of a run that computes them."""
    from customer_sync.transform import CustomerDataProcessor
    from tests.test_data_processor import AS_OF

    full = CustomerDataProcessor(as_of=AS_OF).process_customers(records)
    lean = CustomerDataProcessor(as_of=AS_OF, canonical=False).process_customers(records)
    assert lean.canonical is None
    assert lean.frame.equals(full.frame)
    assert (lean.merges, lean.rejected, lean.counts) == (full.merges, full.rejected, full.counts)
    assert lean.quality_details() == full.quality_details()
    assert lean.field_coverage() == full.field_coverage()
