"""Rule customer_tier: plan first, then lifetime_value."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from customer_sync.rules import BusinessRules
from customer_sync.transform.rules.money import parse_money
from customer_sync.transform.rules.tier import (
    customer_tier,
    customer_tier_expr,
    plan_tier,
    plan_tier_expr,
    plan_value,
)
from tests.transform.support import RULES, awkward, run_expr

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


@pytest.mark.parametrize(
    ("plan", "canonical", "tier"),
    [
        (" PRO ", "pro", "premium"),
        ("Enterprise", "enterprise", "enterprise"),
        ("Gold", "gold", None),  # a real but unknown plan is kept
        ("  ", None, None),
        ("--", None, None),
        (None, None, None),
        (3, None, None),
    ],
)
def test_canonical_plan(plan: Any, canonical: str | None, tier: str | None) -> None:
    """The canonical plan is stripped and case-folded; the tier reads it."""
    assert plan_value(plan) == canonical
    assert plan_tier(plan) == tier


plans = awkward | st.sampled_from(["Enterprise", "PRO", "free", "gold", " plus "])
amounts = awkward | st.floats(0, 20_000) | st.sampled_from(["$10,000", "USD 999.99", "1000"])


@given(st.lists(st.tuples(plans, amounts), max_size=20))
def test_tier_columnar_form_equals_the_scalar_form(pairs: list[tuple[Any, Any]]) -> None:
    """customer_tier_expr over canonical plans and parsed amounts agrees with customer_tier."""
    plan_column = pl.Series([plan_value(p) for p, _ in pairs], dtype=pl.String)
    amount_column = pl.Series([parse_money(a) for _, a in pairs], dtype=pl.Float64)
    expr = customer_tier_expr(plan_tier_expr(pl.col("p")), pl.col("a"), RULES)
    got = run_expr(expr, p=plan_column, a=amount_column)
    assert got == [customer_tier(p, a) for p, a in pairs]
