"""Reading raw JSON values: the text a rule sees, shared by every rule.

A text field reads a string only; a number field reads ``str(value)`` of any non-null
value, so ``17`` and ``"17"`` read the same and ``True`` or ``[1]`` read as no number.
The columnar path (``.._columnar.Extractor``) builds the same text in bulk: a value that
is not text at all becomes :data:`NOT_TEXT`, which every rule treats like the
non-string it stands for, so that null still means "absent or JSON null".
"""

from __future__ import annotations

from typing import Any, Final, TypeAlias

import polars as pl

__all__ = ["NOT_TEXT", "UNKNOWN", "Stages", "numeric_text", "text_value"]

#: A columnar parse as stages: each stage is the expressions of one ``with_columns``.
#: Intermediate results are materialized as temporary "_" columns, because Polars does
#: not reuse a sub-expression (such as a regex match) that several expressions share.
Stages: TypeAlias = list[list[pl.Expr]]

#: The value of a derived field that cannot be decided.
UNKNOWN: Final = "unknown"
#: Stands for a raw value that is present but not text (a number in a name field, a
#: string with a lone surrogate): no grammar, name, code or token accepts it.
NOT_TEXT: Final = "\x00"


def text_value(value: Any) -> str | None:
    """``value`` if it is a string that can be encoded as UTF-8, else None.

    Strings with lone surrogates (which ``json.loads`` can produce) are not text.
    """
    if not isinstance(value, str):
        return None
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return value


def numeric_text(value: Any) -> str | None:
    """The text a number is read from: a string as given, any other non-null value via ``str``.

    ``str(3.0)`` is ``"3.0"``, ``str(True)`` is ``"True"`` (no number), ``str([1])`` is
    ``"[1]"`` (no number). None, an unencodable string, or a value that cannot be
    turned into text (an int of more than 4,300 digits) gives None.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return text_value(value)
    try:
        return text_value(str(value))
    except (ValueError, RecursionError):
        return None
