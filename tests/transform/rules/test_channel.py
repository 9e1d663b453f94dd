"""Rule acquisition_channel and the validity of signup_source."""

from __future__ import annotations

from typing import Any

import pytest

from customer_sync.transform.rules.channel import (
    acquisition_channel,
    signup_source_is_valid,
)

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
