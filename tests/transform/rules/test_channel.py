"""Rule acquisition_channel and the validity of signup_source."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from customer_sync.transform.rules.channel import (
    acquisition_channel,
    acquisition_channel_expr,
    signup_source_is_valid,
    signup_source_value,
    source_code,
)
from tests.transform.support import awkward, run_expr

# --- acquisition_channel ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("iOS App", "mobile"),
        ("android_app", "mobile"),
        ("Mobile", "mobile"),
        ("iPhone", "mobile"),
        ("ipad-store", "mobile"),
        ("APP", "mobile"),
        ("mobile web", "mobile"),  # mobile wins over website
        ("email newsletter app", "mobile"),
        ("Newsletter", "email"),
        ("e-mail", "email"),
        ("E Mail", "email"),
        ("email", "email"),
        ("mail", "email"),
        ("web newsletter", "email"),  # email wins over website
        ("web", "website"),
        ("Website", "website"),
        ("WWW", "website"),
        ("desktop", "website"),
        ("organic", "website"),
        ("SEO", "website"),
        ("direct", "website"),
        ("web.site", "website"),
        ("webapp", "unknown"),  # whole tokens only
        ("emailer", "unknown"),
        ("referral", "unknown"),
        ("", "unknown"),
        ("???", "unknown"),
        (None, "unknown"),
        (42, "unknown"),
        (["web"], "unknown"),
    ],
)
def test_acquisition_channel(source: Any, expected: str) -> None:
    """Tokens of the lower-cased source pick mobile, then email, then website."""
    assert acquisition_channel(source) == expected


@pytest.mark.parametrize(
    ("source", "valid"),
    [
        ("web", True),
        ("referral", True),
        ("x1", True),
        ("???", False),
        ("", False),
        (None, False),
        (7, False),
    ],
)
def test_signup_source_validity(source: Any, valid: bool) -> None:
    """A source is valid when it is a string with a letter or digit, known channel or not."""
    assert signup_source_is_valid(source) is valid


@pytest.mark.parametrize(
    ("source", "canonical"),
    [
        ("iOS App", "ios app"),
        ("  Website\t", "website"),
        ("referral", "referral"),
        ("??", None),
        ("", None),
        (None, None),
        (42, None),
    ],
)
def test_canonical_signup_source(source: Any, canonical: str | None) -> None:
    """The canonical source is the valid source lower-cased and stripped; else None."""
    assert signup_source_value(source) == canonical


@given(st.lists(awkward | st.sampled_from(["web", "iOS App", "e mail", "??"]), max_size=20))
def test_channel_columnar_form_equals_the_scalar_form(values: list[Any]) -> None:
    """acquisition_channel_expr over source codes agrees with acquisition_channel."""
    codes = [source_code(v) if isinstance(v, str) else "invalid" for v in values]
    got = run_expr(acquisition_channel_expr(pl.col("c")), c=pl.Series(codes, dtype=pl.String))
    assert got == [acquisition_channel(v) for v in values]
