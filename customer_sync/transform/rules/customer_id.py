"""Rule ``customer_id`` and the rejection reasons (docs/business_rules.md, row customer_id).

Scalar: :func:`normalize_id` (one raw ``id``) and :func:`check_record` (one raw record).
Columnar: :func:`customer_id_or_none`, which the extractor calls per value with a fast
path for the common spellings; a record it sets aside gets its reason from
:func:`check_record`.
"""

from __future__ import annotations

from typing import Any, Final

from ...errors import InvalidRecord
from .._patterns import DECIMAL_RE, ID_RE, INT64_LIMIT, WHITESPACE
from .values import numeric_text

__all__ = ["check_record", "customer_id_or_none", "normalize_id", "reason_code"]

_DETAIL_LENGTH: Final = 40


def describe(value: Any) -> str:
    """A short, safe rendering of a raw value for a rejection reason."""
    if isinstance(value, str | int | float):  # bool is an int
        try:
            shown = repr(value)
        except ValueError:  # an int too long to print
            shown = f"<{type(value).__name__}>"
    else:
        shown = f"<{type(value).__name__}>"
    if len(shown) > _DETAIL_LENGTH:
        shown = shown[: _DETAIL_LENGTH - 1] + "…"
    return shown


def reason_code(reason: str) -> str:
    """The stable code of a rejection reason: ``"invalid_id: 'abc'"`` -> ``"invalid_id"``."""
    return reason.partition(":")[0]


def normalize_id(value: Any) -> int:
    """The customer id of a raw ``id`` value, or :class:`InvalidRecord` with the reason.

    Accepted: an int, an int-valued float or string ("17", " 17 ", "17.0", 17.0) in
    1..2**63-1. Reasons: ``missing_id`` (absent, null, blank string), ``non_positive_id``
    (zero or negative), ``invalid_id`` (anything else, including bool and out of range).
    """
    if value is None:
        raise InvalidRecord("missing_id", value)
    text = None if isinstance(value, bool) else numeric_text(value)
    if text is None:
        raise InvalidRecord(f"invalid_id: {describe(value)}", value)
    stripped = text.strip(WHITESPACE)
    if not stripped:
        raise InvalidRecord("missing_id", value)
    if ID_RE.fullmatch(stripped):
        digits = stripped.partition(".")[0].lstrip("0")
        if not digits:
            raise InvalidRecord(f"non_positive_id: {describe(value)}", value)
        if len(digits) <= 19 and int(digits) < INT64_LIMIT:
            return int(digits)
    elif stripped.startswith("-") and DECIMAL_RE.fullmatch(stripped[1:]):
        raise InvalidRecord(f"non_positive_id: {describe(value)}", value)
    raise InvalidRecord(f"invalid_id: {describe(value)}", value)


def check_record(raw: Any) -> int:
    """The customer id of a raw record, or :class:`InvalidRecord` carrying the whole record.

    Reasons: ``not_an_object`` (not a dict) and those of :func:`normalize_id`.
    """
    if not isinstance(raw, dict):
        raise InvalidRecord(f"not_an_object: {describe(raw)}", raw)
    try:
        return normalize_id(raw.get("id"))
    except InvalidRecord as exc:
        raise InvalidRecord(exc.reason, raw) from None


def customer_id_or_none(value: Any) -> int | None:
    """:func:`normalize_id` as int-or-None, with fast paths for a plain int or digit string."""
    if type(value) is int and 0 < value < INT64_LIMIT:
        return value
    if type(value) is str and value.isascii() and value.isdigit() and len(value) <= 18:
        number = int(value)
        if number:
            return number
    try:
        return normalize_id(value)
    except InvalidRecord:
        return None
