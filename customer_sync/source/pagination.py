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

__all__ = [
    "EMPTY_PAGES_LIMIT",
    "PageNumberPaginator",
    "PageRequest",
    "PageSize",
    "Paginator",
    "ReceivedPage",
]

#: Empty pages that end a pass even though the records have not reached ``total``: the
#: server claims more than it serves (the count check then ends the run with one line).
EMPTY_PAGES_LIMIT = 64


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


class PageSize:
    """The page size of one sync, shared by the paginators of all its passes.

    ``setting`` is a number (asked for as is: an explicit ``--per-page`` always wins) or
    ``"auto"``: ask for ``max_per_page`` and use what the API grants, read from page 1
    (the echoed ``per_page``, or else the records on page 1 when they are fewer than
    ``total``). If the API refuses the large page (400 or 422 on page 1), :meth:`refuse`
    falls back, once, to the API's own default (no ``per_page`` parameter at all).
    """

    def __init__(self, setting: int | str, max_per_page: int) -> None:
        self.auto = setting == "auto"
        self.requested: int | None = max_per_page if self.auto else int(setting)
        self.granted: int | None = None if self.auto else int(setting)
        self.fell_back = False

    def refuse(self) -> bool:
        """Page 1 was refused (400/422): fall back to the API's default, once, if auto."""
        if not self.auto or self.fell_back:
            return False
        self.fell_back, self.requested = True, None
        return True

    def learn(self, page: ReceivedPage) -> None:
        """Note the size the API granted, from page 1."""
        if not self.auto:
            return
        echoed = _as_int(page.body.get("per_page"))
        if echoed is not None and echoed > 0:
            self.granted = echoed
        elif page.records and page.total is not None and len(page.records) < page.total:
            self.granted = len(page.records)
        else:
            self.granted = self.requested if self.requested is not None else len(page.records)


class PageNumberPaginator:
    """``?page=N&per_page=M`` paging (reqres.in and the simulated API).

    Page 1 tells ``total_pages``; the loop then gets pages 2..total_pages in one go, and
    fetches them concurrently. A later page reporting more pages (rows inserted during the
    sync) extends the plan. Without ``total_pages`` it goes page by page until an empty
    page (and so it does when page 1 holds records but claims ``total_pages=0``). Either way
    it refuses to plan past ``max_pages``.

    **Inflated totals.** Once the records received reach ``total`` (or no ``total`` was
    given) and a page comes back empty, :attr:`finished` turns true: the pages planned
    beyond it are not walked one by one (a server claiming 99,999 pages of nothing ends
    after the first empty page). :attr:`stopped_early` says what was skipped. A server
    whose ``total`` is inflated too (empty pages, records short of ``total``) is given up
    after :data:`EMPTY_PAGES_LIMIT` empty pages; the count check then fails the run.

    ``per_page`` is a number, ``None`` (the API's default: no parameter) or a
    :class:`PageSize` (``auto``, learned from page 1 and shared across passes).
    """

    def __init__(self, *, per_page: int | PageSize | None, max_pages: int) -> None:
        self.size = per_page if isinstance(per_page, PageSize) else None
        self.per_page = per_page.requested if isinstance(per_page, PageSize) else per_page
        self.max_pages = max_pages
        self._planned = 1  # highest page number handed out so far
        self._sequential = False
        self._records = 0
        self._total: int | None = None
        self._empty = 0
        self._awaiting_first = False  # pages planned before page 1 came back (expect)
        self.finished = False
        self.stopped_early: str | None = None

    def request(self, number: int) -> PageRequest:
        """The request for page ``number``."""
        if self.per_page is None:
            return PageRequest(number, {"page": str(number)})
        return PageRequest(number, {"page": str(number), "per_page": str(self.per_page)})

    def refused(self, page: int, status: int | None) -> PageRequest | None:
        """Page 1 answered 400/422: the request to try instead (once), or ``None``."""
        if page != 1 or status not in (400, 422) or self.size is None:
            return None
        if not self.size.refuse():
            return None
        self.per_page = None
        return self.request(1)

    def first(self) -> PageRequest:
        return self.request(1)

    def expect(self, total_pages: int) -> list[PageRequest]:
        """A re-walk that knows the size from the pass before: pages 2..``total_pages`` go
        out beside page 1 instead of after it (a page 1 that fails no longer holds the
        pass up), at the size the API granted. Page 1 still extends the plan; pages past
        the end come back empty, and the pass ends only once page 1 is in."""
        if self.size is not None and self.size.granted is not None and self.per_page is not None:
            self.per_page = self.size.granted
        self._awaiting_first = True
        return self._plan_up_to(min(total_pages, self.max_pages))

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
        self._records += len(page.records)
        if number == 1:
            self._awaiting_first = False
            self._total = page.total
            if self.size is not None:
                self.size.learn(page)
                if self.size.granted is not None and self.per_page is not None:
                    self.per_page = self.size.granted  # later pages ask for what was granted
        if self.finished:
            return []
        self._empty += not page.records
        complete = self._total is None or self._records >= self._total
        if self._awaiting_first:  # no total to judge by yet: walk on
            complete = False
        if not page.records and (complete or self._empty >= EMPTY_PAGES_LIMIT):
            self.finished = True
            claimed = max(self._planned, page.total_pages or 0)
            if claimed > number and not self._sequential:
                self.stopped_early = (
                    f"page {number} came back empty ({self._empty} empty page(s)) with "
                    f"{self._records} records received (total={self._total}); the "
                    f"{claimed - number} page(s) claimed beyond it "
                    f"(total_pages={page.total_pages}) were not walked"
                )
            return []
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
