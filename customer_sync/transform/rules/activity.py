"""Rule ``activity_status`` (docs/business_rules.md, row activity_status).

Scalar: :func:`activity_status`. Columnar: :func:`activity_status_expr` over the parsed
``last_login_at`` (see :mod:`.timestamps`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import polars as pl

from ...rules import BusinessRules
from .timestamps import MICROS_PER_DAY, micros, timestamp_us
from .values import UNKNOWN

__all__ = ["ACTIVITY_STATUSES", "activity_status", "activity_status_expr"]

ACTIVITY_STATUSES: Final = ("active", "inactive", UNKNOWN)
_DEFAULT_RULES: Final = BusinessRules()


def _active_since(as_of: datetime, rules: BusinessRules) -> int:
    return micros(as_of) - rules.active_days * MICROS_PER_DAY


def activity_status(
    last_login_at: Any, as_of: datetime, rules: BusinessRules = _DEFAULT_RULES
) -> str:
    """Active if the last login is at most ``rules.active_days`` before ``as_of``."""
    moment = timestamp_us(last_login_at, as_of, rules)
    if moment is None:
        return UNKNOWN
    return "active" if moment >= _active_since(as_of, rules) else "inactive"


def activity_status_expr(login_us: pl.Expr, as_of: datetime, rules: BusinessRules) -> pl.Expr:
    """:func:`activity_status` of a column of valid ``last_login_at`` microseconds (or null)."""
    return (
        pl.when(login_us.is_null())
        .then(pl.lit(UNKNOWN))
        .when(login_us >= _active_since(as_of, rules))
        .then(pl.lit("active"))
        .otherwise(pl.lit("inactive"))
    )
