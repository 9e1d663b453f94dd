"""Rule ``email_domain``, and the email key that duplicates match on
(docs/business_rules.md, row email_domain).

Scalar: :func:`email_key` and :func:`email_domain`. Columnar: :func:`email_key_expr`
over the stripped text, :func:`email_domain_expr` over the key.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from .._patterns import EMAIL, EMAIL_MAX_LENGTH, EMAIL_RE, WHITESPACE, anchored
from .values import UNKNOWN, text_value

__all__ = ["email_domain", "email_domain_expr", "email_key", "email_key_expr"]


def email_key(value: Any) -> str | None:
    """The stripped, lower-cased email if it is syntactically valid, else None."""
    text = text_value(value)
    if text is None:
        return None
    stripped = text.strip(WHITESPACE)
    if len(stripped) > EMAIL_MAX_LENGTH or not EMAIL_RE.fullmatch(stripped):
        return None
    return stripped.lower()


def email_domain(value: Any) -> str:
    """The lower-cased domain of a valid email, else "unknown"."""
    key = email_key(value)
    return UNKNOWN if key is None else key.partition("@")[2]


def email_key_expr(stripped: pl.Expr) -> pl.Expr:
    """:func:`email_key` of a text column already stripped of WHITESPACE."""
    valid = (stripped.str.len_bytes() <= EMAIL_MAX_LENGTH) & stripped.str.contains(anchored(EMAIL))
    return pl.when(valid).then(stripped.str.to_lowercase())


def email_domain_expr(key: pl.Expr) -> pl.Expr:
    """:func:`email_domain` of a column of email keys."""
    return key.str.splitn("@", 2).struct.field("field_1").fill_null(UNKNOWN)
