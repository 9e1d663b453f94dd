"""Thresholds of the business rules. Documented in docs/business_rules.md.

The rules themselves are pure functions/expressions in this package; this object only
carries the numbers, so that settings can change them without touching code.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BusinessRules"]


@dataclass(frozen=True, slots=True)
class BusinessRules:
    # activity_status
    active_days: int = 30  # last_login_at at most this many days before as-of is "active"
    future_tolerance_days: int = 1  # later than as-of + this is invalid
    min_valid_year: int = 1990  # earlier than this is invalid
    epoch_ms_threshold: int = 10**11  # numeric epochs above this are milliseconds
    # engagement_level
    high_sessions: int = 10
    high_orders_if_active: int = 5
    medium_sessions: int = 3
    medium_orders: int = 1
    # customer_tier from lifetime_value
    enterprise_ltv: float = 10_000.0
    premium_ltv: float = 1_000.0
    # data_quality_score
    quality_penalty: int = 10
    high_quality_min: int = 90
    medium_quality_min: int = 70
    # duplicates
    match_email: bool = True
