"""The response envelope of the API contract, decoded and validated.

``{"page", "per_page", "total", "total_pages", "data": [...], "support": {}}``. A body
that is not JSON, not an object, or has no ``data`` list is a *retriable* failure: the
server (or the network) garbled it, and another attempt usually gets a good one.
``total`` and ``total_pages`` are optional; anything but a non-negative integer counts
as missing (and so does a count beyond 64 bits: no API has that many records, and such
a number would only poison the logs and the metadata).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import RetriableAPIError
from ..jsoncodec import loads as loads_json

__all__ = ["Envelope", "decode_body", "read_envelope"]


@dataclass(frozen=True, slots=True)
class Envelope:
    records: list[Any]
    total: int | None
    total_pages: int | None


def decode_body(content: bytes, *, page: int) -> dict[str, Any]:
    """The JSON object in ``content``; a retriable ``invalid_json`` error otherwise."""
    try:
        body = loads_json(content)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, nesting
        raise RetriableAPIError(
            f"page {page}: the body is not valid JSON ({len(content)} bytes)",
            cause="invalid_json",
            page=page,
            status=200,
        ) from exc
    if not isinstance(body, dict):
        raise RetriableAPIError(
            f"page {page}: the body is JSON but not an object ({type(body).__name__})",
            cause="invalid_body",
            page=page,
            status=200,
        )
    return body


def read_envelope(body: dict[str, Any], *, page: int) -> Envelope:
    """Records and reported sizes; a retriable ``invalid_body`` error without a ``data`` list."""
    data = body.get("data")
    if not isinstance(data, list):
        found = "missing" if "data" not in body else type(data).__name__
        raise RetriableAPIError(
            f"page {page}: 'data' is not a list ({found})",
            cause="invalid_body",
            page=page,
            status=200,
        )
    return Envelope(data, _count(body.get("total")), _count(body.get("total_pages")))


_MAX_COUNT = 2**63 - 1


def _count(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_COUNT:
        return value
    return None
