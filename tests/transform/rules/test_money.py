"""The money rule of lifetime_value."""

from __future__ import annotations

import math
from typing import Any

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from customer_sync.transform._patterns import MONEY
from customer_sync.transform.rules.money import cents_expr, money_stages, parse_money, round_cents
from tests.transform.support import awkward, numeric_column, run_expr, run_stages

# --- lifetime_value and customer_tier -----------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1234.5, 1234.5),
        (0, 0.0),
        ("0", 0.0),
        ("1234.50", 1234.5),
        ("1,234.50", 1234.5),
        ("$1,234.50", 1234.5),
        ("$ 1,234.50", 1234.5),
        ("USD 1234.50", 1234.5),
        ("usd1234.50", 1234.5),
        ("1234.50 USD", 1234.5),
        (" $12,345,678 ", 12345678.0),
        ("1e3", 1000.0),
        (1e300, 1e300),
        (-5, None),
        ("-5", None),
        ("$-5", None),
        ("1234,50", None),  # decimal comma
        ("1,23", None),
        ("12,34.5", None),
        ("EUR 100", None),
        ("€100", None),
        ("n/a", None),
        ("", None),
        (None, None),
        (True, None),
        (float("nan"), None),
        (float("inf"), None),
        ("1e999", None),
        ([100], None),
    ],
)
def test_parse_money(value: Any, expected: float | None) -> None:
    """Every money spelling gives its amount; negative, foreign or garbage gives None."""
    assert parse_money(value) == expected


money_values = (
    awkward | st.from_regex(MONEY, fullmatch=True) | st.floats(min_value=0, max_value=1e16)
)


@given(st.lists(money_values, max_size=20))
def test_money_columnar_form_equals_the_scalar_form(values: list[Any]) -> None:
    """money_stages parses every raw value exactly as parse_money does."""
    stages = money_stages("value", "out")
    assert run_stages(stages, numeric_column(values)) == [parse_money(v) for v in values]


@pytest.mark.parametrize(
    ("amount", "rounded"),
    [
        (1234.5, 1234.5),
        (0.0, 0.0),
        (0.004, 0.0),
        (0.125, 0.12),  # half to even
        (0.375, 0.38),
        (81.35063719766708, 81.35),
        (2.675, 2.68),  # 267.5 cents in floats: half to even
        (1.005, 1.0),  # 100.49999999999999 cents in floats
        (1e300, 1e300),  # beyond 2**50 cents: kept as it is
    ],
)
def test_round_cents(amount: float, rounded: float) -> None:
    """The canonical lifetime_value is rounded to cents, half to even."""
    assert round_cents(amount) == rounded


@given(st.lists(st.floats(min_value=0, max_value=1e18) | st.floats(min_value=0, max_value=1e4)))
def test_cents_columnar_form_equals_the_scalar_form(amounts: list[float]) -> None:
    """cents_expr rounds every amount to the very float round_cents gives."""
    got = run_expr(cents_expr(pl.col("a")), a=pl.Series(amounts, dtype=pl.Float64))
    assert got == [round_cents(a) for a in amounts]
    assert all(math.isfinite(a) for a in got)
