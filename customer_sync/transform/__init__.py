"""Transform: normalize, deduplicate, enrich and score raw customer records (issue #4).

``normalizers`` holds every rule as a scalar pure function (the reference); the columnar
path runs the same rules over whole batches with Polars; ``dedupe`` folds duplicates;
``processor`` drives a run and checks its accounting. Thresholds live in ``BusinessRules``.
"""

from __future__ import annotations

from ..rules import BusinessRules
from .dedupe import deduplicate
from .normalizers import (
    NormalizedRecord,
    acquisition_channel,
    activity_status,
    check_record,
    customer_tier,
    email_domain,
    email_key,
    engagement_level,
    full_name,
    invalid_fields,
    market_segment,
    name_part,
    normalize_id,
    normalize_record,
    parse_count,
    parse_money,
    parse_timestamp,
    quality_band,
    quality_score,
    reason_code,
)
from .processor import AccountingError, CustomerDataProcessor

__all__ = [
    "AccountingError",
    "BusinessRules",
    "CustomerDataProcessor",
    "NormalizedRecord",
    "acquisition_channel",
    "activity_status",
    "check_record",
    "customer_tier",
    "deduplicate",
    "email_domain",
    "email_key",
    "engagement_level",
    "full_name",
    "invalid_fields",
    "market_segment",
    "name_part",
    "normalize_id",
    "normalize_record",
    "parse_count",
    "parse_money",
    "parse_timestamp",
    "quality_band",
    "quality_score",
    "reason_code",
]
