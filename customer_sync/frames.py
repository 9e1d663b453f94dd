"""Polars shapes shared by the transform and the sinks (the models stay free of Polars)."""

from __future__ import annotations

import polars as pl

from .models import CANONICAL_FIELDS, CUSTOMER_FIELDS, QUALITY_BANDS, SCORED_FIELDS

__all__ = ["CANONICAL_SCHEMA", "CUSTOMER_SCHEMA", "TIMESTAMP"]

#: Timestamps: microseconds, UTC.
TIMESTAMP = pl.Datetime("us", "UTC")

#: Polars schema of the exported customers frame, in output order.
CUSTOMER_SCHEMA: dict[str, pl.DataType] = {
    "customer_id": pl.Int64(),
    "full_name": pl.String(),
    "email_domain": pl.String(),
    "engagement_level": pl.String(),
    "activity_status": pl.String(),
    "acquisition_channel": pl.String(),
    "market_segment": pl.String(),
    "customer_tier": pl.String(),
    "data_quality_score": pl.Int64(),
}

assert tuple(CUSTOMER_SCHEMA) == CUSTOMER_FIELDS

#: Polars schema of ``ProcessResult.canonical``: one row per exported customer with its
#: cleaned values; an invalid or missing value is null. Repetitive text is Categorical.
CANONICAL_SCHEMA: dict[str, pl.DataType] = {
    "customer_id": pl.Int64(),
    "email": pl.String(),
    "first_name": pl.Categorical(),
    "last_name": pl.Categorical(),
    "country": pl.Categorical(),
    "region": pl.Categorical(),
    "plan": pl.Categorical(),
    "lifetime_value": pl.Float64(),
    "sessions_30d": pl.Int64(),
    "orders_count": pl.Int64(),
    "signup_source": pl.Categorical(),
    "created_at": TIMESTAMP,
    "last_login_at": TIMESTAMP,
    "updated_at": TIMESTAMP,
    "data_quality_band": pl.Enum(QUALITY_BANDS),
    "quality_issues": pl.List(pl.Enum(SCORED_FIELDS)),
}

assert tuple(CANONICAL_SCHEMA) == CANONICAL_FIELDS
