"""Polars shapes shared by the transform and the sinks (the models stay free of Polars)."""

from __future__ import annotations

import polars as pl

from .models import CUSTOMER_FIELDS

__all__ = ["CUSTOMER_SCHEMA"]

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
