"""Rule customer_id: ids, rejection reasons and their details."""

from __future__ import annotations

from typing import Any

import pytest

from customer_sync.errors import InvalidRecord
from customer_sync.transform.record import normalize_record
from customer_sync.transform.rules.customer_id import normalize_id, reason_code
from tests.transform.support import (
    AS_OF,
    HUGE,
    LONE_SURROGATE,
)

# --- customer_id --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (17, 17),
        ("17", 17),
        (" 17\t", 17),
        ("0017", 17),
        (17.0, 17),
        ("17.00", 17),
        (2**63 - 1, 2**63 - 1),
        (str(2**63 - 1), 2**63 - 1),
    ],
)
def test_id_accepts_ints_and_int_valued_spellings(value: Any, expected: int) -> None:
    """An int, an int-valued float or an int-valued string is the customer id."""
    assert normalize_id(value) == expected


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (None, "missing_id"),
        ("", "missing_id"),
        ("  ", "missing_id"),
        ("abc", "invalid_id"),
        ("17a", "invalid_id"),
        ("+17", "invalid_id"),
        ("1_000", "invalid_id"),
        ("١٧", "invalid_id"),  # Arabic-Indic digits are not ASCII digits
        (17.5, "invalid_id"),
        ("17.5", "invalid_id"),
        (True, "invalid_id"),
        (False, "invalid_id"),
        (float("nan"), "invalid_id"),
        (float("inf"), "invalid_id"),
        (2**63, "invalid_id"),
        pytest.param(HUGE, "invalid_id", id="huge"),
        ([17], "invalid_id"),
        ({"id": 17}, "invalid_id"),
        (LONE_SURROGATE, "invalid_id"),
        (0, "non_positive_id"),
        ("0", "non_positive_id"),
        (0.0, "non_positive_id"),
        (-3, "non_positive_id"),
        ("-3", "non_positive_id"),
        (-2.5, "non_positive_id"),
        (-(10**30), "non_positive_id"),
    ],
)
def test_unusable_id_is_rejected_with_its_reason(value: Any, code: str) -> None:
    """A record without a usable id raises InvalidRecord with a stable reason code."""
    with pytest.raises(InvalidRecord) as caught:
        normalize_id(value)
    assert reason_code(caught.value.reason) == code


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("abc", "invalid_id: 'abc'"),
        (True, "invalid_id: True"),
        ([1], "invalid_id: <list>"),
        (-3, "non_positive_id: -3"),
        ("x" * 100, "invalid_id: '" + "x" * 38 + "…"),
        pytest.param(HUGE, "invalid_id: <int>", id="huge"),
    ],
)
def test_rejection_reason_detail_is_short_and_safe(value: Any, reason: str) -> None:
    """The reason detail is a repr cut to 40 characters, or the type name."""
    with pytest.raises(InvalidRecord) as caught:
        normalize_id(value)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("junk", "not_an_object: 'junk'"),
        ([{"id": 1}], "not_an_object: <list>"),
        (None, "not_an_object: <NoneType>"),
        (5, "not_an_object: 5"),
        ({}, "missing_id"),
        ({"id": None}, "missing_id"),
        ({"id": "x"}, "invalid_id: 'x'"),
    ],
)
def test_record_rejection_carries_the_raw_record(raw: Any, reason: str) -> None:
    """normalize_record rejects non-objects and id-less records, keeping the raw record."""
    with pytest.raises(InvalidRecord) as caught:
        normalize_record(raw, AS_OF)
    assert caught.value.reason == reason
    assert caught.value.record is raw
