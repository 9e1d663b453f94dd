"""Transform: normalize, deduplicate, enrich and score raw customer records (issue #4).

``rules`` holds one module per business rule, with its scalar reference function and its
Polars expression side by side; ``record`` applies every scalar rule to one record (the
reference of the whole transform); ``_columnar`` runs the expressions over whole
batches; ``dedupe`` folds duplicates; ``processor`` drives a run and checks its
accounting. Thresholds live in ``BusinessRules``.
"""

from __future__ import annotations

from ..rules import BusinessRules
from .dedupe import deduplicate
from .processor import AccountingError, CustomerDataProcessor
from .record import NormalizedRecord, normalize_record
from .rules.activity import activity_status
from .rules.channel import acquisition_channel
from .rules.counts import parse_count
from .rules.customer_id import check_record, normalize_id, reason_code
from .rules.email import email_domain, email_key
from .rules.engagement import engagement_level
from .rules.money import parse_money
from .rules.names import full_name, name_part
from .rules.quality import invalid_fields, quality_band, quality_score
from .rules.segment import market_segment
from .rules.tier import customer_tier
from .rules.timestamps import parse_timestamp

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
