"""The count rule of sessions_30d and orders_count."""

from __future__ import annotations

from typing import Any

import pytest

from customer_sync.transform.rules.counts import parse_count
from tests.transform.support import (
    HUGE,
)

# --- counts and engagement_level ----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0),
        (7, 7),
        ("7", 7),
        (" 7 ", 7),
        ("007", 7),
        (7.0, 7),
        ("7.0", 7),
        ("1e3", 1000),
        (2**63 - 1, 2**63 - 1),
        (2**63, None),
        ("9" * 30, None),
        (-1, None),
        ("-1", None),
        (-0.0, None),  # reads as "-0.0": a sign is never a count
        (7.5, None),
        ("7.5", None),
        ("seven", None),
        ("", None),
        (True, None),
        (None, None),
        (float("nan"), None),
        (float("inf"), None),
        ([7], None),
        pytest.param(HUGE, None, id="huge"),
    ],
)
def test_parse_count(value: Any, expected: int | None) -> None:
    """Counts are non-negative whole numbers, as ints, int-valued floats or numeric strings."""
    assert parse_count(value) == expected
