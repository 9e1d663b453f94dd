"""Rule activity_status: active within active_days of as-of."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from customer_sync.rules import BusinessRules
from customer_sync.transform.rules.activity import activity_status
from tests.transform.support import (
    AS_OF,
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
