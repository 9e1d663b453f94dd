"""The data quality of one run, from the exported customers' derived columns.

Everything here reads the compact columns the deriver already made (the Enum outputs,
the score, the ``_issues`` and ``_missing`` masks); nothing goes back to raw records.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Final

import polars as pl

from ..models import SCORED_FIELDS, SOURCE_FIELDS, DataQuality, FieldQuality, Rejection
from ..rules import BusinessRules
from .rules.customer_id import reason_code
from .rules.quality import SCORE_BINS, quality_band_expr, score_bin_expr

__all__ = ["DISTRIBUTED_FIELDS", "data_quality"]

#: The derived fields whose distribution is reported, besides ``data_quality_band``.
DISTRIBUTED_FIELDS: Final = (
    "engagement_level",
    "activity_status",
    "acquisition_channel",
    "market_segment",
    "customer_tier",
)


def _distribution(column: pl.Series) -> dict[str, int]:
    """Rows per value of an Enum column, every category listed (in category order)."""
    dtype = column.dtype
    assert isinstance(dtype, pl.Enum)
    counts = dict.fromkeys(dtype.categories.to_list(), 0)
    for value, count in column.value_counts().iter_rows():
        counts[value] = count
    return counts


def data_quality(
    kept: pl.DataFrame,
    rules: BusinessRules,
    rejected: Sequence[Rejection],
    records_seen: int,
    keys_seen: Sequence[int],
) -> DataQuality:
    """The :class:`DataQuality` of the exported customers ``kept`` (derived columns)."""
    issues, missing = pl.col("_issues"), pl.col("_missing")
    flags = kept.select(
        *(((issues & (1 << bit)) != 0).sum().alias(f"i{bit}") for bit in range(len(SCORED_FIELDS))),
        *(
            ((missing & (1 << bit)) != 0).sum().alias(f"m{bit}")
            for bit in range(len(SCORED_FIELDS))
        ),
        (pl.col("country").cast(pl.String) == "US").sum().alias("us"),
    ).row(0, named=True)
    fields = {}
    for bit, name in enumerate(SCORED_FIELDS):
        scored = flags["us"] if name == "region" else kept.height
        bad, absent = flags[f"i{bit}"], flags[f"m{bit}"]
        fields[name] = FieldQuality(present=scored - bad, missing=absent, invalid=bad - absent)
    scores = pl.col("data_quality_score")
    derived = kept.select(
        *DISTRIBUTED_FIELDS,
        quality_band_expr(scores, rules).alias("data_quality_band"),
        score_bin_expr(scores).alias("score_bin"),
    )
    distributions = {name: _distribution(derived[name]) for name in derived.columns[:-1]}
    histogram = _distribution(derived["score_bin"])
    assert tuple(histogram) == SCORE_BINS
    reasons = Counter(reason_code(rejection.reason) for rejection in rejected)
    return DataQuality(
        fields=fields,
        distributions=distributions,
        score_histogram=histogram,
        rejection_reasons=dict(sorted(reasons.items(), key=lambda item: (-item[1], item[0]))),
        records_seen=records_seen,
        keys_seen=dict(zip(SOURCE_FIELDS, keys_seen, strict=True)),
    )
