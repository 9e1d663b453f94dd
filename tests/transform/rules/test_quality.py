"""Rule data_quality_score and its band."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from customer_sync.models import SCORED_FIELDS
from customer_sync.rules import BusinessRules
from customer_sync.transform.rules.quality import (
    SCORE_BINS,
    invalid_fields,
    issue_mask_expr,
    missing_fields,
    quality_band,
    quality_band_expr,
    quality_issues_expr,
    quality_score,
    quality_score_expr,
    score_bin,
    score_bin_expr,
)
from tests.transform.support import (
    AS_OF,
    run_expr,
)

# --- data_quality_score -------------------------------------------------------------------

CLEAN = {
    "id": 1,
    "email": "a@b.com",
    "first_name": "Ann",
    "last_name": "Lee",
    "created_at": "2024-01-01",
    "last_login_at": "2025-05-30T10:00:00Z",
    "sessions_30d": 3,
    "orders_count": 1,
    "lifetime_value": 10.0,
    "signup_source": "web",
    "country": "US",
    "region": "CA",
}
COSMETIC = {
    "id": " 1 ",
    "email": "  A@B.COM ",
    "first_name": "  ann ",
    "last_name": "LEE",
    "created_at": 1704067200,
    "last_login_at": "1748599200000",
    "sessions_30d": "3",
    "orders_count": 1.0,
    "lifetime_value": "$10.00",
    "signup_source": "Website",
    "country": "usa",
    "region": "california",
}


def test_clean_record_scores_100() -> None:
    """A record with every scored field valid scores 100."""
    assert invalid_fields(CLEAN, AS_OF) == ()
    assert quality_score(CLEAN, AS_OF) == 100


def test_cosmetic_repairs_cost_nothing() -> None:
    """Case, whitespace, numbers sent as strings and currency signs are still valid."""
    assert invalid_fields(COSMETIC, AS_OF) == ()
    assert quality_score(COSMETIC, AS_OF) == 100


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("email", "not-an-email"),
        ("first_name", None),
        ("last_name", "  "),
        ("created_at", "2099-01-01"),
        ("last_login_at", "garbage"),
        ("sessions_30d", -1),
        ("orders_count", 2.5),
        ("lifetime_value", "-3"),
        ("signup_source", "!!"),
        ("country", "Narnia"),
        ("region", "ZZ"),
    ],
)
def test_each_missing_or_invalid_field_costs_ten(field: str, bad: Any) -> None:
    """Each scored field that is invalid, or missing, costs quality_penalty points."""
    invalid = {**CLEAN, field: bad}
    missing = {key: value for key, value in CLEAN.items() if key != field}
    assert invalid_fields(invalid, AS_OF) == (field,)
    assert quality_score(invalid, AS_OF) == 90
    assert quality_score(missing, AS_OF) == 90


def test_region_is_scored_for_us_customers_only() -> None:
    """A missing region costs points for a US customer only."""
    assert quality_score({**CLEAN, "region": None}, AS_OF) == 90
    assert quality_score({**CLEAN, "country": "DE", "region": None}, AS_OF) == 100
    assert invalid_fields({**CLEAN, "country": None, "region": None}, AS_OF) == ("country",)


def test_score_has_a_floor_of_zero() -> None:
    """Eleven invalid fields would cost 110 points; the score stops at 0."""
    assert quality_score({"id": 1, "country": "US"}, AS_OF) == 0
    assert quality_score({"id": 1}, AS_OF) == 0
    assert quality_score({"id": 1}, AS_OF, BusinessRules(quality_penalty=5)) == 50


@pytest.mark.parametrize(
    ("score", "band"),
    [(100, "high"), (90, "high"), (89, "medium"), (70, "medium"), (69, "low"), (0, "low")],
)
def test_quality_band(score: int, band: str) -> None:
    """Bands: high >= 90, medium 70-89, low < 70."""
    assert quality_band(score) == band


def test_missing_fields_are_absent_or_null_only() -> None:
    """A missing field is an absent key or JSON null; a present but bad value is not."""
    raw = {**CLEAN, "email": None, "first_name": 42, "sessions_30d": "many"}
    del raw["last_name"]
    assert missing_fields(raw) == ("email", "last_name")
    assert missing_fields({**CLEAN, "region": None}) == ("region",)
    assert missing_fields({**CLEAN, "country": "DE", "region": None}) == ()


@pytest.mark.parametrize(
    ("score", "label"),
    [(0, "0-9"), (9, "0-9"), (10, "10-19"), (89, "80-89"), (90, "90-100"), (100, "90-100")],
)
def test_score_bins(score: int, label: str) -> None:
    """Scores fall in bins of 10; the last bin holds 90 to 100."""
    assert score_bin(score) == label
    assert len(SCORE_BINS) == 10


@given(
    st.lists(st.sets(st.sampled_from(SCORED_FIELDS)), max_size=20),
    st.integers(0, 100),
)
def test_quality_columnar_forms_equal_the_scalar_forms(
    issue_sets: list[set[str]], penalty: int
) -> None:
    """Mask, score, band, bin and issues list agree with the scalar rules."""
    rules = BusinessRules(quality_penalty=penalty)
    flags = {
        name: pl.Series([name in issues for issues in issue_sets], dtype=pl.Boolean)
        for name in SCORED_FIELDS
    }
    mask = run_expr(issue_mask_expr([pl.col(name) for name in SCORED_FIELDS]), **flags)
    masks = pl.Series(mask, dtype=pl.UInt16)
    scores = [max(0, 100 - penalty * len(issues)) for issues in issue_sets]
    assert run_expr(quality_score_expr(pl.col("m"), rules), m=masks) == scores
    ordered = [[name for name in SCORED_FIELDS if name in issues] for issues in issue_sets]
    assert run_expr(quality_issues_expr(pl.col("m")), m=masks) == ordered
    score_column = pl.Series(scores, dtype=pl.Int16)
    bands = run_expr(quality_band_expr(pl.col("s"), rules), s=score_column)
    assert bands == [quality_band(score, rules) for score in scores]
    assert run_expr(score_bin_expr(pl.col("s")), s=score_column) == list(map(score_bin, scores))
