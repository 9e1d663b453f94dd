"""The count rule of sessions_30d and orders_count."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from customer_sync.transform._patterns import DECIMAL, DIGITS
from customer_sync.transform.rules.counts import count_stages, parse_count
from tests.transform.support import (
    HUGE,
    awkward,
    numeric_column,
    run_stages,
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


count_values = (
    awkward
    | st.from_regex(DIGITS, fullmatch=True)
    | st.from_regex(DECIMAL, fullmatch=True)
    | st.integers(min_value=-10, max_value=2**64)
    | st.floats(min_value=-1, max_value=1e20)
)


@given(st.lists(count_values, max_size=20))
def test_count_columnar_form_equals_the_scalar_form(values: list[Any]) -> None:
    """count_stages parses every raw value exactly as parse_count does."""
    stages = count_stages("value", "out")
    assert run_stages(stages, numeric_column(values)) == [parse_count(v) for v in values]
