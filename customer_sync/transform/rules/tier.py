"""Rule ``customer_tier`` and the canonical ``plan`` (docs/business_rules.md, row
customer_tier).

Scalar: :func:`plan_value`, :func:`plan_tier`, :func:`customer_tier`. Columnar:
:func:`plan_value` runs once per distinct plan (plans repeat); :func:`plan_tier_expr`
and :func:`customer_tier_expr` read the canonical plans and the parsed
``lifetime_value`` (see :mod:`.money`).
"""

from __future__ import annotations

from typing import Any, Final

import polars as pl

from ...rules import BusinessRules
from .money import parse_money
from .values import UNKNOWN, text_value

__all__ = [
    "CUSTOMER_TIERS",
    "customer_tier",
    "customer_tier_expr",
    "plan_tier",
    "plan_tier_expr",
    "plan_value",
]

CUSTOMER_TIERS: Final = ("enterprise", "premium", "basic", UNKNOWN)
_PLAN_TIERS: Final = {
    "enterprise": "enterprise",
    "premium": "premium",
    "pro": "premium",
    "plus": "premium",
    "basic": "basic",
    "free": "basic",
    "starter": "basic",
}
_DEFAULT_RULES: Final = BusinessRules()


def plan_value(plan: Any) -> str | None:
    """The canonical plan: stripped and case-folded; None unless it has a letter or digit."""
    text = text_value(plan)
    if text is None:
        return None
    folded = text.strip().casefold()
    return folded if any(ch.isalnum() for ch in folded) else None


def plan_tier(plan: Any) -> str | None:
    """The tier named by ``plan`` (case and surrounding whitespace ignored), else None."""
    value = plan_value(plan)
    return None if value is None else _PLAN_TIERS.get(value)


def customer_tier(plan: Any, lifetime_value: Any, rules: BusinessRules = _DEFAULT_RULES) -> str:
    """The tier from ``plan``; failing that from ``lifetime_value``; failing both "unknown"."""
    tier = plan_tier(plan)
    if tier is not None:
        return tier
    amount = parse_money(lifetime_value)
    if amount is None:
        return UNKNOWN
    if amount >= rules.enterprise_ltv:
        return "enterprise"
    if amount >= rules.premium_ltv:
        return "premium"
    return "basic"


def plan_tier_expr(plan: pl.Expr) -> pl.Expr:
    """:func:`plan_tier` of a column of canonical plans (:func:`plan_value`, or null)."""
    return plan.cast(pl.String).replace_strict(_PLAN_TIERS, default=None, return_dtype=pl.String)


def customer_tier_expr(tier: pl.Expr, ltv: pl.Expr, rules: BusinessRules) -> pl.Expr:
    """:func:`customer_tier` of a :func:`plan_tier` column and a parsed money column."""
    return (
        pl.when(tier.is_not_null())
        .then(tier)
        .when(ltv.is_null())
        .then(pl.lit(UNKNOWN))
        .when(ltv >= rules.enterprise_ltv)
        .then(pl.lit("enterprise"))
        .when(ltv >= rules.premium_ltv)
        .then(pl.lit("premium"))
        .otherwise(pl.lit("basic"))
    )
