"""The money rule of ``lifetime_value`` (docs/business_rules.md, "Money").

Scalar: :func:`parse_money`. Columnar: :func:`money_stages` over stripped text.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any, Final

import polars as pl

from .._patterns import MONEY, MONEY_RE, MONEY_SYMBOLS, WHITESPACE, anchored
from .values import Stages, numeric_text

__all__ = ["cents_expr", "money_stages", "parse_money", "round_cents"]

#: From this many cents up (about 11 trillion) an amount is kept as it is: Polars and Python
#: round half-way cents differently so close to 2**52, where floats have no fraction left.
_EXACT_CENTS: Final = 2.0**50
_CENT: Final = Decimal("0.01")


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
    """``amount`` rounded to cents: ``amount * 100`` rounded half to even, then divided by
    100 (correctly rounded). From 2**50 cents up, the amount is kept as it is."""
    cents = amount * 100.0
    return round(cents) / 100 if abs(cents) < _EXACT_CENTS else amount


def cents_expr(amount: pl.Expr) -> pl.Expr:
    """:func:`round_cents` of a Float64 column of amounts (never negative).

    The division is exact in decimal (cents times 0.01) and rounded once, to the nearest
    float, like Python's ``int / 100``: a float division may be done by multiplying with
    the reciprocal, one ulp off for some amounts (8135 * 0.01 is 81.35000000000001).
    """
    cents = amount * 100.0
    whole = cents.round(0, mode="half_to_even").cast(pl.Int64, strict=False)
    # The cent as a string cast to Decimal: ``pl.lit(Decimal)`` imports numpy (~0.1 s).
    cent = pl.lit(str(_CENT)).cast(pl.Decimal(38, 2))
    exact = (whole.cast(pl.Decimal(38, 0)) * cent).cast(pl.Float64)
    return pl.when(cents.abs() < _EXACT_CENTS).then(exact).otherwise(amount)
