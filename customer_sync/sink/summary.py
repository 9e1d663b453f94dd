"""Pure summaries of exported customers: quality bands and counts per business field."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import polars as pl

from ..frames import CUSTOMER_SCHEMA
from ..rules import BusinessRules
from ..transform.rules.quality import quality_band as band_of

__all__ = [
    "BREAKDOWN_FIELDS",
    "CROSS_TABS",
    "cross_tab",
    "quality_band",
    "quality_summary",
    "summary_report",
    "to_frame",
]

#: The default thresholds (``BusinessRules`` is frozen, so one shared instance is safe).
DEFAULT_RULES = BusinessRules()

BREAKDOWN_FIELDS = (
    "engagement_level",
    "activity_status",
    "acquisition_channel",
    "market_segment",
    "customer_tier",
)

#: Pairs of derived fields counted together: ``{row value: {column value: count}}``.
CROSS_TABS = (
    ("market_segment", "customer_tier"),
    ("engagement_level", "acquisition_channel"),
)


def quality_band(score: int, rules: BusinessRules = DEFAULT_RULES) -> str:
    """The metadata's key for a score's band: ``high_quality``, ``medium_quality`` or
    ``low_quality`` (the band itself is the transform's rule, :func:`band_of`)."""
    return f"{band_of(score, rules)}_quality"


def to_frame(customers: pl.DataFrame | Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    if isinstance(customers, pl.DataFrame):
        return customers
    return pl.DataFrame(list(customers), schema=CUSTOMER_SCHEMA, orient="row")


def quality_summary(frame: pl.DataFrame, rules: BusinessRules = DEFAULT_RULES) -> dict[str, int]:
    scores = frame.get_column("data_quality_score")
    high = int((scores >= rules.high_quality_min).sum())
    medium = int(((scores >= rules.medium_quality_min) & (scores < rules.high_quality_min)).sum())
    low = frame.height - high - medium
    return {"high_quality": high, "medium_quality": medium, "low_quality": low}


def summary_report(frame: pl.DataFrame, rules: BusinessRules = DEFAULT_RULES) -> dict[str, Any]:
    """Quality bands, counts per engagement, activity, channel, segment and tier, and the
    cross tabs of :data:`CROSS_TABS` (``market_segment_by_customer_tier``, ...)."""
    report: dict[str, Any] = {
        "total_customers": frame.height,
        "data_quality_summary": quality_summary(frame, rules),
    }
    for name in BREAKDOWN_FIELDS:
        counts = frame.get_column(name).value_counts()
        report[name] = {
            str(row[name]): int(row["count"]) for row in counts.sort(name).iter_rows(named=True)
        }
    for rows, columns in CROSS_TABS:
        report[f"{rows}_by_{columns}"] = cross_tab(frame, rows, columns)
    return report


def cross_tab(frame: pl.DataFrame, rows: str, columns: str) -> dict[str, dict[str, int]]:
    """Customers counted by two fields: ``{row value: {column value: count}}``, in the
    fields' own order, pairs with no customer left out."""
    table: dict[str, dict[str, int]] = {}
    counts = frame.group_by([rows, columns]).len().sort([rows, columns])
    for row, column, count in counts.iter_rows():
        table.setdefault(str(row), {})[str(column)] = int(count)
    return table
