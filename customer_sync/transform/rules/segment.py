"""Rule ``market_segment``, and the canonical ``country`` and ``region``
(docs/business_rules.md, rows market_segment, Country and Region).

Scalar: :func:`country_value`, :func:`state_value`, :func:`region_value`,
:func:`market_segment`. Columnar: the country and state lookups run once per distinct
value (they repeat) and :func:`market_segment_expr` and :func:`region_expr` read the
codes. The tables are in :mod:`..geo`.
"""

from __future__ import annotations

from typing import Any, Final

import polars as pl

from .. import geo
from .values import UNKNOWN, text_value

__all__ = [
    "MARKET_SEGMENTS",
    "country_is_valid",
    "country_value",
    "market_segment",
    "market_segment_expr",
    "region_expr",
    "region_is_invalid_expr",
    "region_is_valid",
    "region_text",
    "region_value",
    "state_value",
]

MARKET_SEGMENTS: Final = ("US-West", "US-East", "EU", "APAC", "Other", UNKNOWN)


def country_value(value: Any) -> str | None:
    """The ISO 3166-1 alpha-2 code of a raw country, or None."""
    text = text_value(value)
    return None if text is None else geo.country_code(text)


def state_value(value: Any) -> str | None:
    """The two-letter code of a raw US state or DC, or None."""
    text = text_value(value)
    return None if text is None else geo.us_state_code(text)


def region_text(value: Any) -> str | None:
    """A non-US region as given, whitespace collapsed; None unless it has a letter or digit."""
    text = text_value(value)
    if text is None:
        return None
    cleaned = " ".join(text.split())
    return cleaned if any(ch.isalnum() for ch in cleaned) else None


def region_value(country: Any, region: Any) -> str | None:
    """The canonical region: the state code for US customers, else :func:`region_text`."""
    return state_value(region) if country_value(country) == "US" else region_text(region)


def country_is_valid(country: Any) -> bool:
    """The country resolves to an ISO 3166-1 code."""
    return country_value(country) is not None


def region_is_valid(country: Any, region: Any) -> bool:
    """The region is usable: always for non-US customers, a state or DC for US ones."""
    return country_value(country) != "US" or state_value(region) is not None


def market_segment(country: Any, region: Any) -> str:
    """The segment: US-West, US-East, EU, APAC, Other or unknown."""
    code = country_value(country)
    if code is None:
        return UNKNOWN
    if code == "US":
        state = state_value(region)
        if state is None:
            return UNKNOWN
        return "US-West" if state in geo.US_WEST_STATES else "US-East"
    return geo.segment_for_country(code)


def _is_us(country: pl.Expr) -> pl.Expr:
    return (country == "US").fill_null(value=False)


def market_segment_expr(country: pl.Expr, state: pl.Expr) -> pl.Expr:
    """:func:`market_segment` of country codes and state codes (or nulls)."""
    is_us = _is_us(country)
    return (
        pl.when(country.is_null())
        .then(pl.lit(UNKNOWN))
        .when(is_us & state.is_null())
        .then(pl.lit(UNKNOWN))
        .when(is_us & state.is_in(sorted(geo.US_WEST_STATES)))
        .then(pl.lit("US-West"))
        .when(is_us)
        .then(pl.lit("US-East"))
        .when(country.is_in(sorted(geo.EUROPE_COUNTRIES)))
        .then(pl.lit("EU"))
        .when(country.is_in(sorted(geo.APAC_COUNTRIES)))
        .then(pl.lit("APAC"))
        .otherwise(pl.lit("Other"))
    )


def region_expr(country: pl.Expr, state: pl.Expr, text: pl.Expr) -> pl.Expr:
    """:func:`region_value` of country codes, state codes and :func:`region_text` values."""
    return pl.when(_is_us(country)).then(state).otherwise(text)


def region_is_invalid_expr(country: pl.Expr, state: pl.Expr) -> pl.Expr:
    """Not :func:`region_is_valid`: a US customer without a state."""
    return _is_us(country) & state.is_null()
