"""Pagination strategies: how to ask for the next page, kept out of the fetch loop.

The loop (:mod:`.fetcher`) drives any object that satisfies :class:`Paginator`:

1. it fetches ``first()``;
2. it hands every page it receives to ``check()`` (which refuses a body that contradicts
   the request) and then to ``advance()``, which returns the requests that page makes
   possible: none, one (sequential strategies such as cursor or link-header paging), or
   many at once (page-number and offset paging once the size is known, fetched
   concurrently by the loop);
3. it stops when nothing is pending.

A fresh paginator is made for every pass over the data (the drift re-check makes more
than one pass), so a strategy keeps whatever state it likes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..errors import FatalAPIError

__all__ = ["PageNumberPaginator", "PageRequest", "Paginator", "ReceivedPage"]


@dataclass(frozen=True, slots=True)
class PageRequest:
    """One page to fetch.

    ``number`` is the page's sequence number (1-based): its identity in events, run stats
    and the page store. ``params`` are added to the endpoint's query; ``url`` replaces the
    endpoint altogether (link-header paging), and must be on the API's own origin.
    """

    number: int
    params: Mapping[str, str] = field(default_factory=dict)
    url: str | None = None


@dataclass(frozen=True, slots=True)
class ReceivedPage:
    """What a strategy sees of a page: the request, the decoded body and its envelope."""

    request: PageRequest
    body: Mapping[str, Any]
    records: list[Any]
    total: int | None
    total_pages: int | None
    headers: Mapping[str, str] = field(default_factory=dict)


class Paginator(Protocol):
    """A pagination strategy (see the module docstring for the protocol)."""

    def first(self) -> PageRequest:
        """The request that starts a pass."""
        ...

    def check(self, page: ReceivedPage) -> None:
        """Raise :class:`~customer_sync.errors.FatalAPIError` if the body contradicts it."""
        ...

    def advance(self, page: ReceivedPage) -> list[PageRequest]:
        """The requests that ``page`` makes possible; an empty list ends this branch."""
        ...


class PageNumberPaginator:
    """``?page=N&per_page=M`` paging (reqres.in and the simulated API).

    Page 1 tells ``total_pages``; the loop then gets pages 2..total_pages in one go, and
    fetches them concurrently. A later page reporting more pages (rows inserted during the
    sync) extends the plan. Without ``total_pages`` it goes page by page until an empty
    page (and so it does when page 1 holds records but claims ``total_pages=0``). Either way
    it refuses to plan past ``max_pages``.
    """

    def __init__(self, *, per_page: int, max_pages: int) -> None:
        self.per_page = per_page
        self.max_pages = max_pages
        self._planned = 1  # highest page number handed out so far
        self._sequential = False

    def request(self, number: int) -> PageRequest:
        """The request for page ``number``."""
        return PageRequest(number, {"page": str(number), "per_page": str(self.per_page)})

    def first(self) -> PageRequest:
        return self.request(1)

    def check(self, page: ReceivedPage) -> None:
        echoed = page.body.get("page")
        if echoed is None:
            return
        if isinstance(echoed, bool) or _as_int(echoed) != page.request.number:
            raise FatalAPIError(
                f"page {page.request.number}: the API answered for page {echoed!r}",
                page=page.request.number,
                hint="the server ignored or rewrote the page parameter",
            )

    def advance(self, page: ReceivedPage) -> list[PageRequest]:
        number = page.request.number
        if number == 1 and (page.total_pages is None or (page.total_pages == 0 and page.records)):
            self._sequential = True  # unknown, or "no pages" beside records: walk until empty
        if self._sequential:
            if not page.records:
                return []
            return self._plan_up_to(number + 1)
        return self._plan_up_to(page.total_pages or 0)

    def _plan_up_to(self, last: int) -> list[PageRequest]:
        if last > self.max_pages:
            raise FatalAPIError(
                f"the API has more than max_pages={self.max_pages} pages (needs page {last})",
                page=last,
                hint="raise max_pages if that many pages are expected",
            )
        new = [self.request(n) for n in range(self._planned + 1, last + 1)]
        self._planned = max(self._planned, last)
        return new


def _as_int(value: object) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return None
