"""The count rule shared by ``sessions_30d`` and ``orders_count``
(docs/business_rules.md, "Counts").

Scalar: :func:`parse_count`. Columnar: :func:`count_stages` over stripped text.
"""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from .._patterns import DECIMAL, DECIMAL_RE, DIGITS, DIGITS_RE, INT64_LIMIT, WHITESPACE, anchored
from .values import Stages, numeric_text

__all__ = ["count_stages", "parse_count"]


def parse_count(value: Any) -> int | None:
    """A non-negative whole number below 2**63, or None.

    Accepted: an int, an int-valued float, or a string of digits or of an int-valued
    decimal ("7", " 7 ", "7.0", "1e3"). Not: bool, negatives, fractions, NaN, inf.
    """
    text = numeric_text(value)
    if text is None:
        return None
    stripped = text.strip(WHITESPACE)
    if DIGITS_RE.fullmatch(stripped):
        digits = stripped.lstrip("0") or "0"
        if len(digits) <= 19 and int(digits) < INT64_LIMIT:
            return int(digits)
        return None
    if DECIMAL_RE.fullmatch(stripped):
        number = float(stripped)
        if math.isfinite(number) and number.is_integer() and number < INT64_LIMIT:
            return int(number)
    return None


def count_stages(name: str, alias: str) -> Stages:
    """``alias``: :func:`parse_count` of stripped text column ``name``, as Int64 or null."""
    text = pl.col(name)
    digits, number = pl.col(f"_digits{alias}"), pl.col(f"_number{alias}")
    from_digits = (
        pl.when(digits == "")
        .then(pl.lit(0, dtype=pl.Int64))
        .when(digits.str.len_bytes() <= 19)
        .then(digits.cast(pl.Int64, strict=False))
    )
    from_decimal = pl.when(
        number.is_finite() & (number == number.floor()) & (number < float(INT64_LIMIT))
    ).then(number.cast(pl.Int64, strict=False))
    return [
        [
            pl.when(text.str.contains(anchored(DIGITS)))
            .then(text.str.strip_chars_start("0"))
            .alias(f"_digits{alias}"),
            pl.when(text.str.contains(anchored(DECIMAL)))
            .then(text)
            .cast(pl.Float64, strict=False)
            .alias(f"_number{alias}"),
        ],
        [pl.when(digits.is_not_null()).then(from_digits).otherwise(from_decimal).alias(alias)],
    ]
