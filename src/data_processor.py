"""Entry point of the transform step: ``from src.data_processor import CustomerDataProcessor``.

The implementation lives in :mod:`customer_sync.transform`; this module re-exports it.
"""

from __future__ import annotations

from customer_sync.transform import (
    AccountingError,
    BusinessRules,
    CustomerDataProcessor,
    NormalizedRecord,
    acquisition_channel,
    activity_status,
    customer_tier,
    email_domain,
    engagement_level,
    full_name,
    market_segment,
    normalize_record,
    quality_band,
    quality_score,
)

__all__ = [
    "AccountingError",
    "BusinessRules",
    "CustomerDataProcessor",
    "NormalizedRecord",
    "acquisition_channel",
    "activity_status",
    "customer_tier",
    "email_domain",
    "engagement_level",
    "full_name",
    "market_segment",
    "normalize_record",
    "quality_band",
    "quality_score",
]
