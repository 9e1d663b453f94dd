"""Rule ``data_quality_score``, its band and the quality issues
(docs/business_rules.md, rows data_quality_score and quality band).

Scalar: :func:`invalid_fields`, :func:`missing_fields`, :func:`quality_score`,
:func:`quality_band`, :func:`score_bin`. Columnar: :func:`issue_mask_expr` packs the
per-field flags into one small integer per row (bit ``i`` is ``SCORED_FIELDS[i]``, from
:mod:`customer_sync.models`), and
:func:`quality_score_expr`, :func:`quality_issues_expr`, :func:`quality_band_expr` and
:func:`score_bin_expr` read it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

import polars as pl

from ...models import QUALITY_BANDS, SCORED_FIELDS
from ...rules import BusinessRules
from .channel import signup_source_is_valid
from .counts import parse_count
from .email import email_key
from .money import parse_money
from .names import name_part
from .segment import country_is_valid, country_value, region_is_valid
from .timestamps import timestamp_us

__all__ = [
    "QUALITY_BANDS",
    "SCORED_FIELDS",
    "SCORE_BINS",
    "invalid_fields",
    "issue_mask_expr",
    "missing_fields",
    "quality_band",
    "quality_band_expr",
    "quality_issues_expr",
    "quality_score",
    "quality_score_expr",
    "score_bin",
    "score_bin_expr",
]

#: The score histogram's bins, in steps of 10; the last one holds 100 too.
SCORE_BINS: Final = (*(f"{low}-{low + 9}" for low in range(0, 90, 10)), "90-100")
#: A Polars type that holds a mask of SCORED_FIELDS.
MASK_DTYPE: Final = pl.UInt16()
_DEFAULT_RULES: Final = BusinessRules()


def invalid_fields(
    record: Mapping[str, Any], as_of: datetime, rules: BusinessRules = _DEFAULT_RULES
) -> tuple[str, ...]:
    """The scored fields of ``record`` that are missing or invalid, in SCORED_FIELDS order."""
    get = record.get
    checks = (
        ("email", email_key(get("email")) is not None),
        ("first_name", name_part(get("first_name")) is not None),
        ("last_name", name_part(get("last_name")) is not None),
        ("created_at", timestamp_us(get("created_at"), as_of, rules) is not None),
        ("last_login_at", timestamp_us(get("last_login_at"), as_of, rules) is not None),
        ("sessions_30d", parse_count(get("sessions_30d")) is not None),
        ("orders_count", parse_count(get("orders_count")) is not None),
        ("lifetime_value", parse_money(get("lifetime_value")) is not None),
        ("signup_source", signup_source_is_valid(get("signup_source"))),
        ("country", country_is_valid(get("country"))),
        ("region", region_is_valid(get("country"), get("region"))),
    )
    return tuple(name for name, valid in checks if not valid)


def missing_fields(record: Mapping[str, Any]) -> tuple[str, ...]:
    """The scored fields of ``record`` that are absent or JSON null (not merely invalid).

    ``region`` counts only for a US customer, the only one whose region is scored.
    """
    missing = [name for name in SCORED_FIELDS[:-1] if record.get(name) is None]
    if country_value(record.get("country")) == "US" and record.get("region") is None:
        missing.append("region")
    return tuple(missing)


def quality_score(
    record: Mapping[str, Any], as_of: datetime, rules: BusinessRules = _DEFAULT_RULES
) -> int:
    """100 minus ``rules.quality_penalty`` per missing or invalid scored field; at least 0."""
    return max(0, 100 - rules.quality_penalty * len(invalid_fields(record, as_of, rules)))


def quality_band(score: int, rules: BusinessRules = _DEFAULT_RULES) -> str:
    """The band (high, medium, low) of a data quality score."""
    if score >= rules.high_quality_min:
        return "high"
    if score >= rules.medium_quality_min:
        return "medium"
    return "low"


def score_bin(score: int) -> str:
    """The histogram bin of a score: "0-9", "10-19", ..., "80-89", "90-100"."""
    return SCORE_BINS[min(score // 10, len(SCORE_BINS) - 1)]


def issue_mask_expr(flags: Sequence[pl.Expr]) -> pl.Expr:
    """One flag per SCORED_FIELDS entry (true: an issue), packed into a UInt16 mask."""
    assert len(flags) == len(SCORED_FIELDS)
    bits = [
        pl.when(flag).then(pl.lit(1 << index, dtype=MASK_DTYPE)).otherwise(pl.lit(0, MASK_DTYPE))
        for index, flag in enumerate(flags)
    ]
    return pl.sum_horizontal(bits).cast(MASK_DTYPE)


def quality_score_expr(mask: pl.Expr, rules: BusinessRules) -> pl.Expr:
    """:func:`quality_score` of an issue mask (:func:`issue_mask_expr`)."""
    issues = mask.bitwise_count_ones().cast(pl.Int32)
    return (100 - issues * rules.quality_penalty).clip(lower_bound=0)


def quality_issues_expr(mask: pl.Expr) -> pl.Expr:
    """:func:`invalid_fields` of an issue mask: a list of the fields whose bit is set."""
    names = [
        pl.when((mask & (1 << index)) != 0).then(pl.lit(name))
        for index, name in enumerate(SCORED_FIELDS)
    ]
    return pl.concat_list(names).list.drop_nulls().cast(pl.List(pl.Enum(SCORED_FIELDS)))


def quality_band_expr(score: pl.Expr, rules: BusinessRules) -> pl.Expr:
    """:func:`quality_band` of a score column, as an Enum of QUALITY_BANDS."""
    band = (
        pl.when(score >= rules.high_quality_min)
        .then(pl.lit("high"))
        .when(score >= rules.medium_quality_min)
        .then(pl.lit("medium"))
        .otherwise(pl.lit("low"))
    )
    return band.cast(pl.Enum(QUALITY_BANDS))


def score_bin_expr(score: pl.Expr) -> pl.Expr:
    """:func:`score_bin` of a score column, as an Enum of SCORE_BINS."""
    index = (score // 10).clip(upper_bound=len(SCORE_BINS) - 1)
    return index.replace_strict(
        list(range(len(SCORE_BINS))), list(SCORE_BINS), return_dtype=pl.Enum(SCORE_BINS)
    )
