"""The money rule of lifetime_value."""

from __future__ import annotations

from typing import Any

import pytest

from customer_sync.transform.rules.money import parse_money

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
