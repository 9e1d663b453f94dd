"""The one JSON codec: fast orjson first, the standard library for what orjson gets wrong.

Every part that reads or writes JSON goes through here (the client's bodies, the checkpoint,
the ETag cache, the sink's side files, the drift digests and the JSON log lines), so the
fallbacks are written once:

* :func:`loads` decodes with orjson, except what orjson refuses or *rounds*: ``NaN`` and
  infinities, lone surrogates, nesting deeper than 1024, and integers beyond 64 bits
  (orjson silently turns ``2**70`` into ``1.1805916207174113e+21``). A body holding a run
  of 19 or more digits is therefore decoded by the standard parser, which keeps every
  integer exact. An object only the standard parser took is a :class:`LenientBody`.
* :func:`dumps_exact` writes JSON that :func:`loads` turns back into the same value
  (big integers, ``NaN``, lone surrogates kept): for stores of raw bodies.
* :func:`dumps_line` writes one *strict* JSON line (``NaN`` and infinities as ``null``,
  big integers exact, every key a string); a value nested too deeply even for the
  standard library is replaced by a note, never a crash.
* :func:`dumps_indented` writes strict, indented JSON (the output's metadata).
* :func:`canonical` writes key-order-independent bytes, for digests.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

import orjson

__all__ = ["LenientBody", "canonical", "dumps_exact", "dumps_indented", "dumps_line", "loads"]

#: Every digit becomes ``0`` and every other byte a space, so that a run of 19 digits (what
#: a number orjson may round needs at least) is found at C speed. Measured on 1,000 pages of
#: 100 records (25 MB): the scan costs 20-40 ms beside orjson's 150-200 ms parse, where
#: ``re.search(rb"\d{19,}")`` cost 240 ms.
_DIGITS = bytes(48 if 48 <= c <= 57 else 32 for c in range(256))
_LONG_RUN = b"0" * 19
_NOTE = "(not representable as JSON: nested too deeply)"


class LenientBody(dict[str, Any]):
    """An object only the standard parser read exactly (NaN, integers beyond 64 bits, lone
    surrogates, deep nesting). Marked so that a store re-encodes it exactly, while a strict
    body (the usual case) takes the fast encoder without being scanned."""


def loads(content: bytes | str) -> Any:
    """The JSON value in ``content``, every number exact. Raises ``ValueError`` (or
    ``RecursionError`` for absurd nesting) when it is not JSON."""
    data = content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content
    if _LONG_RUN not in data.translate(_DIGITS):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    value = json.loads(data)
    return LenientBody(value) if type(value) is dict else value


def dumps_exact(value: Any) -> bytes:
    """JSON bytes that :func:`loads` turns back into ``value`` exactly.

    A plain dict (what orjson decoded, so free of NaN and big integers) takes orjson; a
    :class:`LenientBody` (or a dict holding one, like a cache entry), and anything orjson
    refuses, takes the exact standard encoder.
    """
    if type(value) is dict and not any(type(v) is LenientBody for v in value.values()):
        try:
            return orjson.dumps(value)
        except orjson.JSONEncodeError:
            pass
    return json.dumps(value, separators=(",", ":")).encode("ascii")


def dumps_line(
    obj: Mapping[str, Any], *, default: Callable[[Any], Any] = repr, note_key: str = "record"
) -> bytes:
    """One strict JSON line ending in a newline. What orjson refuses (integers beyond 64
    bits, lone surrogates, deep nesting) goes through the standard library, with ``NaN``
    and infinities written as ``null`` as orjson does. If even that fails, the value under
    ``note_key`` is replaced by a note."""
    try:
        return orjson.dumps(
            obj, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE, default=default
        )
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        pass
    try:
        text = _strict_text(obj, default)
    except (ValueError, RecursionError):
        note = {k: v for k, v in obj.items() if k != note_key}
        note[note_key] = _NOTE
        text = _strict_text(note, default)
    return text.encode("ascii") + b"\n"


def _strict_text(obj: Mapping[str, Any], default: Callable[[Any], Any]) -> str:
    return json.dumps(_strict_copy(obj), allow_nan=False, default=default, separators=(",", ":"))


def dumps_indented(value: Any) -> bytes:
    """Strict JSON indented by two spaces: ``NaN`` and infinities as ``null``, big integers
    exact (through the standard library when orjson refuses them)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        text = json.dumps(_strict_copy(value), allow_nan=False, default=repr, indent=2)
        return text.encode("ascii")


def canonical(value: Any) -> bytes:
    """Key-order-independent JSON bytes of ``value`` (for digests), integers exact."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    except (orjson.JSONEncodeError, TypeError):
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=repr)
        return text.encode("utf-8", "surrogatepass")


def _strict_copy(value: Any) -> Any:
    """A copy of ``value`` with non-finite floats as ``None`` and every key a string.

    Iterative, so that a deeply nested raw record cannot exhaust the Python stack.
    """
    root: list[Any] = [None]
    stack: list[tuple[Any, Any, Any]] = [(value, root, 0)]
    while stack:
        item, parent, slot = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            parent[slot] = None
        elif isinstance(item, Mapping):
            copy: dict[str, Any] = dict.fromkeys(map(str, item))
            parent[slot] = copy
            stack.extend((v, copy, str(k)) for k, v in item.items())
        elif isinstance(item, list | tuple):
            items: list[Any] = [None] * len(item)
            parent[slot] = items
            stack.extend((v, items, i) for i, v in enumerate(item))
        else:
            parent[slot] = item
    return root[0]
