"""Thresholds of the business rules. Documented in docs/business_rules.md.

The rules themselves are pure functions/expressions in this package; this object only
carries the numbers, so that settings can change them without touching code.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ConfigError

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

    def __post_init__(self) -> None:
        """Refuse thresholds that cannot work together (ConfigError names the settings)."""
        checks = (
            ("0 <= active_days <= 36500", 0 <= self.active_days <= 36_500),
            ("0 <= future_tolerance_days <= 36500", 0 <= self.future_tolerance_days <= 36_500),
            ("1 <= min_valid_year <= 9999", 1 <= self.min_valid_year <= 9999),
            ("0 < epoch_ms_threshold < 2**53", 0 < self.epoch_ms_threshold < 2**53),
            (
                "0 <= medium_sessions <= high_sessions",
                0 <= self.medium_sessions <= self.high_sessions,
            ),
            ("0 <= medium_orders", self.medium_orders >= 0),
            ("0 <= high_orders_if_active", self.high_orders_if_active >= 0),
            ("0 <= premium_ltv <= enterprise_ltv", 0 <= self.premium_ltv <= self.enterprise_ltv),
            ("0 <= quality_penalty <= 100", 0 <= self.quality_penalty <= 100),
            (
                "0 <= medium_quality_min <= high_quality_min <= 100",
                0 <= self.medium_quality_min <= self.high_quality_min <= 100,
            ),
        )
        problems = [rule for rule, ok in checks if not ok]
        if problems:
            raise ConfigError(
                f"invalid business rules: {'; '.join(problems)} must hold",
                hint="see docs/business_rules.md",
            )
