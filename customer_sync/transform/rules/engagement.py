"""Rule ``engagement_level`` (docs/business_rules.md, row engagement_level).

Scalar: :func:`engagement_level`. Columnar: :func:`engagement_level_expr` over the
parsed counts (see :mod:`.counts`) and the activity status.
"""

from __future__ import annotations

from typing import Any, Final

import polars as pl

from ...rules import BusinessRules
from .counts import parse_count
from .values import UNKNOWN

__all__ = ["ENGAGEMENT_LEVELS", "engagement_level", "engagement_level_expr"]

ENGAGEMENT_LEVELS: Final = ("high", "medium", "low", UNKNOWN)
_DEFAULT_RULES: Final = BusinessRules()


def engagement_level(
    sessions_30d: Any,
    orders_count: Any,
    activity: str,
    rules: BusinessRules = _DEFAULT_RULES,
) -> str:
    """High, medium or low from sessions and orders; "unknown" if neither is usable."""
    sessions = parse_count(sessions_30d)
    orders = parse_count(orders_count)
    if sessions is None and orders is None:
        return UNKNOWN
    sessions = sessions or 0
    orders = orders or 0
    if sessions >= rules.high_sessions or (
        orders >= rules.high_orders_if_active and activity == "active"
    ):
        return "high"
    if sessions >= rules.medium_sessions or orders >= rules.medium_orders:
        return "medium"
    return "low"


def engagement_level_expr(
    sessions: pl.Expr, orders: pl.Expr, activity: pl.Expr, rules: BusinessRules
) -> pl.Expr:
    """:func:`engagement_level` of parsed count columns (or null) and an activity column."""
    some_sessions, some_orders = sessions.fill_null(0), orders.fill_null(0)
    return (
        pl.when(sessions.is_null() & orders.is_null())
        .then(pl.lit(UNKNOWN))
        .when(
            (some_sessions >= rules.high_sessions)
            | ((some_orders >= rules.high_orders_if_active) & (activity == "active"))
        )
        .then(pl.lit("high"))
        .when((some_sessions >= rules.medium_sessions) | (some_orders >= rules.medium_orders))
        .then(pl.lit("medium"))
        .otherwise(pl.lit("low"))
    )
