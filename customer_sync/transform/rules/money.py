"""The money rule of ``lifetime_value`` (docs/business_rules.md, "Money").

Scalar: :func:`parse_money`. Columnar: :func:`money_stages` over stripped text.
"""

from __future__ import annotations

import math
from typing import Any, Final

import polars as pl

from .._patterns import MONEY, MONEY_RE, MONEY_SYMBOLS, WHITESPACE, anchored
from .values import Stages, numeric_text

__all__ = ["cents_expr", "money_stages", "parse_money", "round_cents"]

#: At or above this many cents a float has no fraction left to round.
_EXACT_CENTS: Final = 2.0**52


def parse_money(value: Any) -> float | None:
    """A finite, non-negative amount from any money spelling, or None.

    Accepted: 1234.5, "1234.50", "1,234.50", "$1,234.50", "USD 1234.50", "1234.50 usd",
    "1e3". Not: negatives, a decimal comma ("1234,50"), other currencies, NaN, inf.
    """
    text = numeric_text(value)
    if text is None:
        return None
    stripped = text.strip(WHITESPACE)
    if MONEY_RE.fullmatch(stripped) is None:
        return None
    amount = float(stripped.strip(MONEY_SYMBOLS).replace(",", ""))
    return amount if math.isfinite(amount) else None


def money_stages(name: str, alias: str) -> Stages:
    """``alias``: :func:`parse_money` of stripped text column ``name``, as Float64 or null."""
    text = pl.col(name)
    amount = pl.col(f"_amount{alias}")
    return [
        [
            pl.when(text.str.contains(anchored(MONEY)))
            .then(text.str.strip_chars(MONEY_SYMBOLS).str.replace_all(",", "", literal=True))
            .cast(pl.Float64, strict=False)
            .alias(f"_amount{alias}")
        ],
        [pl.when(amount.is_finite()).then(amount).alias(alias)],
    ]


def round_cents(amount: float) -> float:
    """``amount`` rounded to 2 decimals: cents rounded half to even, in float arithmetic."""
    cents = amount * 100.0
    return round(cents) / 100 if abs(cents) < _EXACT_CENTS else amount


def cents_expr(amount: pl.Expr) -> pl.Expr:
    """:func:`round_cents` of a Float64 column."""
    cents = amount * 100.0
    rounded = cents.round(0, mode="half_to_even") / 100.0
    return pl.when(cents.abs() < _EXACT_CENTS).then(rounded).otherwise(amount)
