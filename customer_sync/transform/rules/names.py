"""Rule ``full_name`` (docs/business_rules.md, row full_name).

Scalar: :func:`name_part` cleans one part, :func:`full_name` joins them. Columnar: the
parts are cleaned by :func:`name_part` once per distinct value (names repeat), and
:func:`full_name_expr` joins the cleaned columns.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import polars as pl

from .values import UNKNOWN, text_value

__all__ = ["full_name", "full_name_expr", "name_part"]


def name_part(value: Any) -> str | None:
    """A cleaned first or last name, or None when missing or invalid.

    Whitespace is stripped and inner runs collapse to one space. A part that is all
    lower-case or all upper-case becomes ``str.title()`` ("o'neil" -> "O'Neil",
    "MARY-JANE" -> "Mary-Jane"); mixed case is kept ("McDonald"). Invalid: not a string,
    blank, no letter at all ("123", "--"), or a control character.
    """
    text = text_value(value)
    if text is None:
        return None
    part = " ".join(text.split())
    if not any(ch.isalpha() for ch in part):
        return None
    if any(unicodedata.category(ch) == "Cc" for ch in part):
        return None
    if part.islower() or part.isupper():
        return part.title()
    return part


def full_name(first_name: Any, last_name: Any) -> str:
    """First and last name parts joined by one space; one part alone; else "unknown"."""
    parts = [part for part in (name_part(first_name), name_part(last_name)) if part]
    return " ".join(parts) if parts else UNKNOWN


def full_name_expr(first: pl.Expr, last: pl.Expr) -> pl.Expr:
    """:func:`full_name` of two columns of cleaned parts (:func:`name_part`, or null)."""
    return (
        pl.when(first.is_null() & last.is_null())
        .then(pl.lit(UNKNOWN))
        .otherwise(pl.concat_str([first, last], separator=" ", ignore_nulls=True))
    )
