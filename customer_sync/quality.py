"""Which source fields feed which business rule, and the warning when the source lacks them.

Pure functions over the run's metadata (``source_field_coverage`` and the derived-field
distributions of ``data_quality_details``); no I/O and no Polars, so the CLI can check
``--require-fields`` names without loading the transform.

A derived field turns ``unknown`` when every raw field it is computed from is missing or
invalid (``engagement_level`` needs ``sessions_30d`` or ``orders_count``). When the
source did not even *send* such a field in more than :data:`ABSENT_SHARE_LIMIT` of the
records, the run warns once, naming the field, the share and what became unknown::

    the source sent no sessions_30d or orders_count in 100% of records:
    engagement_level is unknown for all 12 customers
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any, Final, TypedDict

__all__ = [
    "ABSENT_SHARE_LIMIT",
    "RULE_FIELDS",
    "RULE_INPUTS",
    "SCORE_ONLY_FIELDS",
    "FieldWarning",
    "field_warnings",
    "format_share",
    "metadata_warnings",
    "unmet_requirements",
]

#: A field absent from more than this share of the raw records is worth a warning.
ABSENT_SHARE_LIMIT: Final = 0.9

#: Derived field -> the raw fields it is computed from (docs/business_rules.md).
RULE_INPUTS: Final[Mapping[str, tuple[str, ...]]] = {
    "full_name": ("first_name", "last_name"),
    "email_domain": ("email",),
    "engagement_level": ("sessions_30d", "orders_count"),
    "activity_status": ("last_login_at",),
    "acquisition_channel": ("signup_source",),
    "market_segment": ("country", "region"),
    "customer_tier": ("plan", "lifetime_value"),
}

#: Raw fields that feed only the data-quality score.
SCORE_ONLY_FIELDS: Final = ("created_at",)

#: Every raw field that feeds a business rule: the names ``--require-fields`` accepts.
RULE_FIELDS: Final[tuple[str, ...]] = (
    *(name for inputs in RULE_INPUTS.values() for name in inputs),
    *SCORE_ONLY_FIELDS,
)


class FieldWarning(TypedDict):
    """One warning: raw fields the source left out, and the derived field it cost."""

    fields: list[str]
    absent_share: float  # the smallest absent share among ``fields``
    derived_field: str | None  # None: the fields feed only the quality score
    unknown_customers: int
    total_customers: int
    message: str


def format_share(share: float) -> str:
    """A share as a percentage that never rounds up to 100%: ``0.9996`` -> ``99.9%``."""
    percent = math.floor(share * 1000 + 1e-9) / 10
    return f"{percent:.0f}%" if percent == int(percent) else f"{percent:.1f}%"


def _sent_no(fields: list[str], absent: Mapping[str, float]) -> str:
    shares = {format_share(absent[name]) for name in fields}
    if len(shares) == 1:
        return f"the source sent no {' or '.join(fields)} in {shares.pop()} of records"
    parts = [f"no {name} in {format_share(absent[name])}" for name in fields]
    return f"the source sent {' and '.join(parts)} of records"


def _unknown_text(derived: str, unknown: int, total: int) -> str:
    if total and unknown == total:
        return f"{derived} is unknown for all {total:,} customers"
    return f"{derived} is unknown for {unknown:,} of {total:,} customers"


def field_warnings(
    coverage: Mapping[str, float],
    distributions: Mapping[str, Mapping[str, int]],
    total_customers: int,
    *,
    limit: float = ABSENT_SHARE_LIMIT,
) -> list[FieldWarning]:
    """One warning per derived field whose inputs the source left out of > ``limit`` of
    the records, plus one for score-only fields. Empty when the source sends enough.

    ``coverage`` is the share of raw records that carried each field at all (a field the
    run never saw counts as absent everywhere only if it is listed with 0.0; a field not
    listed is not judged). ``distributions`` maps each derived field to its value counts.
    """
    absent = {
        name: 1.0 - float(share)
        for name, share in coverage.items()
        if name in RULE_FIELDS and 1.0 - float(share) > limit
    }
    warnings: list[FieldWarning] = []
    for derived, inputs in RULE_INPUTS.items():
        missing = [name for name in inputs if name in absent]
        if not missing:
            continue
        unknown = int(distributions.get(derived, {}).get("unknown", 0))
        warnings.append(
            FieldWarning(
                fields=missing,
                absent_share=min(absent[name] for name in missing),
                derived_field=derived,
                unknown_customers=unknown,
                total_customers=total_customers,
                message=f"{_sent_no(missing, absent)}: "
                f"{_unknown_text(derived, unknown, total_customers)}",
            )
        )
    score_only = [name for name in SCORE_ONLY_FIELDS if name in absent]
    if score_only:
        warnings.append(
            FieldWarning(
                fields=score_only,
                absent_share=min(absent[name] for name in score_only),
                derived_field=None,
                unknown_customers=0,
                total_customers=total_customers,
                message=f"{_sent_no(score_only, absent)}: it lowers every "
                "data_quality_score",
            )
        )
    return warnings


def unmet_requirements(
    warnings: Collection[Mapping[str, Any]], required: Collection[str]
) -> list[str]:
    """The required fields that a warning names, in the order the warnings name them."""
    named = [name for warning in warnings for name in warning["fields"]]
    return [name for name in named if name in required]


def metadata_warnings(metadata: Mapping[str, Any]) -> list[dict[str, Any]]:
    """:func:`field_warnings` for a run's metadata (``source_field_coverage``, the
    distributions of ``data_quality_details``); empty when it has no coverage figures."""
    coverage = metadata.get("source_field_coverage")
    if not coverage:
        return []
    details = metadata.get("data_quality_details") or {}
    distributions = details.get("distributions") or metadata.get("summary", {})
    total = metadata.get("total_customers", 0)
    return [dict(warning) for warning in field_warnings(coverage, distributions, total)]
