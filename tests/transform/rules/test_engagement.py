"""Rule engagement_level: high, medium, low from sessions and orders."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from customer_sync.rules import BusinessRules
from customer_sync.transform.rules.counts import parse_count
from customer_sync.transform.rules.engagement import engagement_level, engagement_level_expr

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


small_counts = st.none() | st.integers(0, 15) | st.sampled_from(["x", -1, "4"])


@given(
    st.lists(
        st.tuples(small_counts, small_counts, st.sampled_from(["active", "inactive", "unknown"])),
        max_size=20,
    ),
    st.integers(0, 12),
    st.integers(0, 6),
)
def test_engagement_columnar_form_equals_the_scalar_form(
    rows: list[tuple[Any, Any, str]], high_sessions: int, medium_orders: int
) -> None:
    """engagement_level_expr agrees with engagement_level for any thresholds."""
    rules = BusinessRules(
        high_sessions=high_sessions,
        medium_sessions=min(3, high_sessions),
        medium_orders=medium_orders,
    )
    frame = pl.DataFrame(
        {
            "s": [parse_count(s) for s, _, _ in rows],
            "o": [parse_count(o) for _, o, _ in rows],
            "a": [a for _, _, a in rows],
        },
        schema={"s": pl.Int64, "o": pl.Int64, "a": pl.String},
    )
    expr = engagement_level_expr(pl.col("s"), pl.col("o"), pl.col("a"), rules)
    got = frame.select(expr.alias("out"))["out"].to_list()
    assert got == [engagement_level(s, o, a, rules) for s, o, a in rows]
