"""Rule full_name: name parts cleaned, title-cased and joined."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from customer_sync.transform.rules.names import full_name, full_name_expr, name_part
from tests.transform.support import (
    LONE_SURROGATE,
    awkward,
    run_expr,
)

# --- full_name ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        ("alice", "smith", "Alice Smith"),
        ("ALICE", "SMITH", "Alice Smith"),
        ("  alice ", "\tsmith\n", "Alice Smith"),
        ("Alice", "McDonald", "Alice McDonald"),
        ("alice", "McDonald", "Alice McDonald"),
        ("mARY", "smith", "mARY Smith"),  # mixed case is kept as given
        ("mary   jane", "van  der berg", "Mary Jane Van Der Berg"),
        ("jean-luc", "o'neil", "Jean-Luc O'Neil"),
        ("JEAN-LUC", "O'NEIL", "Jean-Luc O'Neil"),
        ("José", "ÑÚÑEZ", "José Ñúñez"),
        ("李", "小龙", "李 小龙"),  # no case: kept
        ("alice", None, "Alice"),
        (None, "smith", "Smith"),
        ("alice", "", "Alice"),
        ("  ", "smith", "Smith"),
        (None, None, "unknown"),
        ("", "   ", "unknown"),
        ("123", "456", "unknown"),  # no letter: invalid
        ("--", "smith", "Smith"),
        ("al\x00ice", "smith", "Smith"),  # control character: invalid
        (42, "smith", "Smith"),  # not a string: invalid
        (["alice"], {"x": 1}, "unknown"),
        (LONE_SURROGATE, "smith", "Smith"),
    ],
)
def test_full_name(first: Any, last: Any, expected: str) -> None:
    """Parts are stripped, collapsed, title-cased when single-cased, and joined by one space."""
    assert full_name(first, last) == expected


@given(awkward, awkward)
def test_full_name_is_clean(first: Any, last: Any) -> None:
    """A full name never has outer or doubled spaces and is never empty."""
    name = full_name(first, last)
    assert name
    assert name == " ".join(name.split(" ")) == name.strip()
    assert "  " not in name


@given(awkward)
def test_name_part_is_idempotent(value: Any) -> None:
    """Cleaning a cleaned name part changes nothing."""
    part = name_part(value)
    assert part is None or name_part(part) == part


@given(st.lists(st.tuples(awkward, awkward), max_size=20))
def test_full_name_columnar_form_equals_the_scalar_form(pairs: list[tuple[Any, Any]]) -> None:
    """full_name_expr over cleaned parts agrees with full_name."""
    first = pl.Series([name_part(a) for a, _ in pairs], dtype=pl.String)
    last = pl.Series([name_part(b) for _, b in pairs], dtype=pl.String)
    got = run_expr(full_name_expr(pl.col("f"), pl.col("l")), f=first, l=last)
    assert got == [full_name(a, b) for a, b in pairs]
