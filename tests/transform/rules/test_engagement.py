"""Rule engagement_level: high, medium, low from sessions and orders."""

from __future__ import annotations

from typing import Any

import pytest

from customer_sync.transform.rules.engagement import engagement_level

# --- engagement_level ---


@pytest.mark.parametrize(
    ("sessions", "orders", "activity", "expected"),
    [
        (10, 0, "inactive", "high"),  # s = 10
        ("10", None, "unknown", "high"),
        (9, 0, "active", "medium"),
        (0, 5, "active", "high"),  # o = 5 and active
        (0, 5, "inactive", "medium"),
        (0, 5, "unknown", "medium"),
        (0, 4, "active", "medium"),
        (3, 0, "inactive", "medium"),  # s = 3
        (2, 0, "inactive", "low"),
        (0, 1, "inactive", "medium"),  # o = 1
        (0, 0, "active", "low"),
        (None, None, "active", "unknown"),
        ("many", -1, "active", "unknown"),  # both invalid
        (None, 0, "active", "low"),  # one missing counts as 0
        (12, "n/a", "inactive", "high"),
        ("n/a", 6, "active", "high"),
    ],
)
def test_engagement_level(sessions: Any, orders: Any, activity: str, expected: str) -> None:
    """High from s >= 10 or (o >= 5 and active); medium from s >= 3 or o >= 1; else low."""
    assert engagement_level(sessions, orders, activity) == expected
