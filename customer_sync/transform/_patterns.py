"""Grammars shared by the scalar rules and the columnar (Polars) path.

Each pattern is written once, as an unanchored source that means the same thing in
Python's ``re`` and in Rust's ``regex`` (which Polars uses): ASCII classes only
(``[0-9]``, never ``\\d`` or ``\\s``, which are Unicode-aware and differ between the two),
no look-around, no back-references. Python applies them with ``fullmatch``; Polars with
``^...$`` (in Rust ``$`` is the end of the text only).
"""

from __future__ import annotations

import re
from typing import Final

#: The whitespace stripped around every value: ASCII space, tab, LF, CR, VT and FF.
#: (Python's ``str.strip()`` and Rust's ``trim`` disagree on other Unicode spaces.)
WHITESPACE: Final = " \t\n\r\x0b\x0c"

#: A positive-looking id: digits, optionally with a zero fraction ("17", "17.0").
ID: Final = r"[0-9]+(?:\.0+)?"
DIGITS: Final = r"[0-9]+"
#: A plain unsigned decimal number, optionally with an exponent ("3", "3.0", "1e3").
DECIMAL: Final = r"[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
#: An epoch: unsigned digits with an optional fraction.
EPOCH: Final = r"[0-9]+(?:\.[0-9]+)?"
#: Money: an optional "$" or "USD" prefix, thousands separators only in groups of three,
#: an optional "USD" suffix. The amount of a match is the text with MONEY_SYMBOLS
#: stripped from both ends and the commas removed.
MONEY: Final = (
    r"(?:\$ *|[Uu][Ss][Dd] *)?"
    r"(?:[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?|[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)"
    r"(?: *[Uu][Ss][Dd])?"
)
MONEY_SYMBOLS: Final = "$UuSsDd "
#: ISO-8601 date, optionally with a time (T, t or space), fraction and zone.
#: Groups: 1 date, 2 hour, 3 minute, 4 second, 5 fraction, 6 "Z", 7 sign, 8 offset hours,
#: 9 offset minutes.
ISO_TIMESTAMP: Final = (
    r"([0-9]{4}-[0-9]{2}-[0-9]{2})"
    r"(?:[Tt ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]{1,9}))?)?"
    r"(?:([Zz])|([+-])([0-9]{2})(?::?([0-9]{2}))?)?)?"
)
#: A syntactically valid email address, ASCII only: a dot-atom local part, "@", and a
#: domain of at least two labels (letters, digits, inner hyphens; 1-63 characters each)
#: whose last label is 2-63 letters.
EMAIL: Final = (
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
EMAIL_MAX_LENGTH: Final = 254

#: Largest magnitude accepted for integers (ids, counts): the Int64 range.
INT64_LIMIT: Final = 2**63


def anchored(pattern: str) -> str:
    """The Polars (Rust regex) spelling of a whole-value match."""
    return f"^(?:{pattern})$"


ID_RE: Final = re.compile(ID)
DIGITS_RE: Final = re.compile(DIGITS)
DECIMAL_RE: Final = re.compile(DECIMAL)
EPOCH_RE: Final = re.compile(EPOCH)
MONEY_RE: Final = re.compile(MONEY)
ISO_TIMESTAMP_RE: Final = re.compile(ISO_TIMESTAMP)
EMAIL_RE: Final = re.compile(EMAIL)
