"""Rule activity_status: active within active_days of as-of."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from customer_sync.rules import BusinessRules
from customer_sync.transform.rules.activity import activity_status, activity_status_expr
from customer_sync.transform.rules.timestamps import timestamp_us
from tests.transform.support import (
    AS_OF,
    RULES,
    run_expr,
)

# --- activity_status ---


@pytest.mark.parametrize(
    ("last_login_at", "expected"),
    [
        (AS_OF.isoformat(), "active"),
        ((AS_OF - timedelta(days=30)).isoformat(), "active"),  # exactly 30 days: inclusive
        ((AS_OF - timedelta(days=30, microseconds=1)).isoformat(), "inactive"),
        ("2025-05-02T12:00:00Z", "active"),
        ("2025-05-02", "inactive"),  # a date is midnight UTC: 30.5 days before as-of
        ("2025-05-03", "active"),
        ((AS_OF + timedelta(hours=23)).isoformat(), "active"),  # slightly in the future
        ((AS_OF + timedelta(days=1)).isoformat(), "active"),
        ((AS_OF + timedelta(days=1, seconds=1)).isoformat(), "unknown"),
        ("1989-12-31", "unknown"),
        ("2010-01-01", "inactive"),
        ("garbage", "unknown"),
        (None, "unknown"),
        ("", "unknown"),
    ],
)
def test_activity_status(last_login_at: Any, expected: str) -> None:
    """Active when the last login is at most 30 days before as-of; invalid is "unknown"."""
    assert activity_status(last_login_at, AS_OF) == expected


def test_activity_window_follows_the_rules() -> None:
    """rules.active_days moves the boundary."""
    login = (AS_OF - timedelta(days=8)).isoformat()
    assert activity_status(login, AS_OF, BusinessRules(active_days=7)) == "inactive"
    assert activity_status(login, AS_OF, BusinessRules(active_days=8)) == "active"


@given(
    st.lists(st.integers(min_value=-(10**6), max_value=10**6) | st.none(), max_size=20),
    st.integers(min_value=0, max_value=60),
)
def test_activity_columnar_form_equals_the_scalar_form(
    minutes: list[int | None], active_days: int
) -> None:
    """activity_status_expr agrees with activity_status around the active window."""
    rules = BusinessRules(active_days=active_days)
    logins = [
        None if m is None else (AS_OF - timedelta(days=active_days, minutes=m)).isoformat()
        for m in minutes
    ]
    moments = pl.Series([timestamp_us(v, AS_OF, rules) for v in logins], dtype=pl.Int64)
    got = run_expr(activity_status_expr(pl.col("t"), AS_OF, rules), t=moments)
    assert got == [activity_status(v, AS_OF, rules) for v in logins]
    assert RULES.active_days == 30
