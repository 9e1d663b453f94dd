"""Rule email_domain and the email key duplicates match on."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from customer_sync.transform._patterns import EMAIL, WHITESPACE
from customer_sync.transform.rules.email import (
    email_domain,
    email_domain_expr,
    email_key,
    email_key_expr,
)
from tests.transform.support import awkward, run_expr, text_column

# --- email_domain -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "key", "domain"),
    [
        ("alice@example.com", "alice@example.com", "example.com"),
        ("  Alice@Example.COM \n", "alice@example.com", "example.com"),
        ("a.b+tag@mail.co.uk", "a.b+tag@mail.co.uk", "mail.co.uk"),
        ("o'neil@x-y.io", "o'neil@x-y.io", "x-y.io"),
        ("alice@example", None, "unknown"),  # one label
        ("alice@@example.com", None, "unknown"),
        ("alice@ex@ample.com", None, "unknown"),
        ("@example.com", None, "unknown"),
        ("alice@", None, "unknown"),
        ("ali ce@example.com", None, "unknown"),
        (".alice@example.com", None, "unknown"),
        ("al..ice@example.com", None, "unknown"),
        ("alice@-example.com", None, "unknown"),
        ("alice@example-.com", None, "unknown"),
        ("alice@example..com", None, "unknown"),
        ("alice@example.c", None, "unknown"),  # TLD of one letter
        ("alice@example.123", None, "unknown"),  # numeric TLD
        ("alïce@example.com", None, "unknown"),  # ASCII only
        ("a" * 250 + "@x.com", None, "unknown"),  # longer than 254
        ("", None, "unknown"),
        (None, None, "unknown"),
        (42, None, "unknown"),
        (["a@b.com"], None, "unknown"),
    ],
)
def test_email(value: Any, key: str | None, domain: str) -> None:
    """A syntactically valid email gives its lower-cased domain; anything else "unknown"."""
    assert email_key(value) == key
    assert email_domain(value) == domain


email_values = awkward | st.from_regex(EMAIL, fullmatch=True) | st.emails()


@given(st.lists(email_values, max_size=20))
def test_email_columnar_form_equals_the_scalar_form(values: list[Any]) -> None:
    """email_key_expr and email_domain_expr agree with email_key and email_domain."""
    stripped = text_column(values).str.strip_chars(WHITESPACE)
    keys = run_expr(email_key_expr(pl.col("e")), e=stripped)
    assert keys == [email_key(v) for v in values]
    domains = run_expr(email_domain_expr(pl.col("k")), k=pl.Series(keys, dtype=pl.String))
    assert domains == [email_domain(v) for v in values]
