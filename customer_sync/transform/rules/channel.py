"""Rule ``acquisition_channel`` and the canonical ``signup_source``
(docs/business_rules.md, rows acquisition_channel and signup_source).

Scalar: :func:`acquisition_channel`, :func:`signup_source_is_valid`,
:func:`signup_source_value`. Columnar: :func:`source_code` runs once per distinct
source (sources repeat), and :func:`acquisition_channel_expr` reads its codes.
"""

from __future__ import annotations

import re
from itertools import pairwise
from typing import Any, Final

import polars as pl

from .._patterns import WHITESPACE
from .values import UNKNOWN, text_value

__all__ = [
    "ACQUISITION_CHANNELS",
    "INVALID_SOURCE",
    "acquisition_channel",
    "acquisition_channel_expr",
    "signup_source_is_valid",
    "signup_source_value",
    "source_code",
]

ACQUISITION_CHANNELS: Final = ("mobile", "email", "website", UNKNOWN)
#: The code of a signup source that is missing or has no letter or digit.
INVALID_SOURCE: Final = "invalid"
_TOKENS: Final = re.compile(r"[^\W_]+")  # runs of letters and digits
_MOBILE_TOKENS: Final = frozenset({"ios", "android", "app", "mobile", "iphone", "ipad"})
_EMAIL_TOKENS: Final = frozenset({"email", "newsletter", "mail"})
_WEB_TOKENS: Final = frozenset({"web", "website", "www", "desktop", "organic", "seo", "direct"})


def _source_tokens(value: Any) -> list[str]:
    text = text_value(value)
    return [] if text is None else _TOKENS.findall(text.lower())


def acquisition_channel(signup_source: Any) -> str:
    """The channel (mobile, email, website, unknown) from the tokens of ``signup_source``."""
    tokens = _source_tokens(signup_source)
    found = set(tokens)
    if found & _MOBILE_TOKENS:
        return "mobile"
    if found & _EMAIL_TOKENS or ("e", "mail") in pairwise(tokens):
        return "email"
    if found & _WEB_TOKENS:
        return "website"
    return UNKNOWN


def signup_source_is_valid(signup_source: Any) -> bool:
    """A source is valid when it is a string with at least one letter or digit."""
    return bool(_source_tokens(signup_source))


def signup_source_value(signup_source: Any) -> str | None:
    """The canonical source: lower-cased, WHITESPACE stripped; None when not valid."""
    if not signup_source_is_valid(signup_source):
        return None
    text: str = signup_source
    return text.strip(WHITESPACE).lower()


def source_code(text: str) -> str:
    """The channel of a signup source, or :data:`INVALID_SOURCE` (for the score)."""
    return acquisition_channel(text) if signup_source_is_valid(text) else INVALID_SOURCE


def acquisition_channel_expr(code: pl.Expr) -> pl.Expr:
    """:func:`acquisition_channel` of a column of :func:`source_code` values."""
    return pl.when(code == INVALID_SOURCE).then(pl.lit(UNKNOWN)).otherwise(code)
