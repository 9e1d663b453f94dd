"""Rule customer_tier: plan first, then lifetime_value."""

from __future__ import annotations

from typing import Any

import pytest

from customer_sync.rules import BusinessRules
from customer_sync.transform.rules.tier import (
    customer_tier,
)

# --- customer_tier ---


@pytest.mark.parametrize(
    ("plan", "ltv", "expected"),
    [
        ("Enterprise", None, "enterprise"),
        ("ENTERPRISE", 0, "enterprise"),
        ("premium", None, "premium"),
        ("PRO", None, "premium"),
        ("plus", None, "premium"),
        (" Pro ", None, "premium"),
        ("free", 50_000, "basic"),  # the plan wins over lifetime_value
        ("starter", None, "basic"),
        ("basic", None, "basic"),
        ("gold", 10_000, "enterprise"),  # unrecognized plan: lifetime_value decides
        (None, 10_000, "enterprise"),
        (None, "$10,000.00", "enterprise"),
        (None, 9_999.99, "premium"),
        (None, 1_000, "premium"),
        (None, "USD 1000", "premium"),
        (None, 999.99, "basic"),
        (None, 0, "basic"),
        (None, None, "unknown"),
        ("gold", "n/a", "unknown"),
        (42, -5, "unknown"),
        ("", "", "unknown"),
    ],
)
def test_customer_tier(plan: Any, ltv: Any, expected: str) -> None:
    """Plan first (case-insensitive), else lifetime_value at 10,000 and 1,000, else unknown."""
    assert customer_tier(plan, ltv) == expected


def test_tier_thresholds_follow_the_rules() -> None:
    """rules.enterprise_ltv and rules.premium_ltv move the tier boundaries."""
    rules = BusinessRules(premium_ltv=50, enterprise_ltv=100)
    assert [customer_tier(None, v, rules) for v in (49.99, 50, 99.99, 100)] == [
        "basic",
        "premium",
        "premium",
        "enterprise",
    ]
