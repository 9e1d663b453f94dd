"""Page-number pagination as reqres.in does it: parameters, bounds, totals. Pure."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["PagingError", "page_start", "parse_paging", "total_pages"]

_MAX_DIGITS = 12


class PagingError(ValueError):
    """A ``page`` or ``per_page`` parameter the API answers with 400."""


def _positive(query: Mapping[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    text = raw.strip()
    if not text.isdecimal() or not text.isascii() or len(text) > _MAX_DIGITS:
        raise PagingError(f"{name} must be a positive integer, got {raw!r}")
    value = int(text)
    if value < 1:
        raise PagingError(f"{name} must be at least 1, got {value}")
    return value


def parse_paging(
    query: Mapping[str, str],
    *,
    default_per_page: int,
    max_per_page: int,
    reject_over_max: bool = False,
) -> tuple[int, int]:
    """``(page, per_page)`` from query parameters; ``per_page`` above the maximum is
    capped silently (as reqres does) or, with ``reject_over_max``, refused (400)."""
    page = _positive(query, "page", 1)
    asked = _positive(query, "per_page", default_per_page)
    if asked > max_per_page and reject_over_max:
        raise PagingError(f"per_page must be at most {max_per_page}, got {asked}")
    return page, min(asked, max_per_page)


def page_start(page: int, per_page: int) -> int:
    """The 0-based position of the first record of ``page``."""
    return (page - 1) * per_page


def total_pages(total: int, per_page: int) -> int:
    return -(-total // per_page)
