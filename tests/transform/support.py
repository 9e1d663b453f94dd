"""Shared strategies and helpers for the rule tests: awkward JSON values, and running a
rule's columnar form on a one-column frame built the way the extractor builds it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import polars as pl
from hypothesis import strategies as st

from customer_sync.rules import BusinessRules
from customer_sync.transform._columnar import _numeric_series, _text_series
from customer_sync.transform._patterns import WHITESPACE
from customer_sync.transform.rules.values import Stages

AS_OF = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
RULES = BusinessRules()
HUGE = 10**5000  # more digits than str() will print
LONE_SURROGATE = json.loads('"a\\ud800b"')  # what the stdlib json module makes of "\ud800"

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
#: Values no rule may raise on: arbitrary JSON plus the awkward ones named in issue #4.
awkward = json_values | st.sampled_from(
    [float("nan"), float("inf"), HUGE, -HUGE, "", "   ", [], {}, LONE_SURROGATE]
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def text_column(values: Sequence[Any]) -> pl.Series:
    """A text field's raw values as the extractor stores them."""
    return _text_series("value", list(values))


def numeric_column(values: Sequence[Any]) -> pl.Series:
    """A numeric field's raw values as the extractor stores them, stripped as the deriver does."""
    return _numeric_series("value", list(values)).str.strip_chars(WHITESPACE)


def run_stages(stages: Stages, column: pl.Series) -> list[Any]:
    """The ``"out"`` column after running a rule's stages over a frame of ``value``."""
    lazy = pl.DataFrame([column.alias("value")]).lazy()
    for stage in stages:
        lazy = lazy.with_columns(stage)
    return lazy.collect()["out"].to_list()


def run_expr(expr: pl.Expr, **columns: pl.Series | Sequence[Any]) -> list[Any]:
    """``expr`` evaluated over a frame of the given columns."""
    frame = pl.DataFrame({name: values for name, values in columns.items()}, strict=False)
    return frame.select(expr.alias("out"))["out"].to_list()
