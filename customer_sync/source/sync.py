"""The fetch loop: drives a pagination strategy, the page store and the drift re-check.

One *pass* walks the pages: it fetches ``paginator.first()``, and every page received
is handed to the paginator, which returns the requests it makes possible; those run
concurrently (at most ``concurrency`` on the wire, a few more waiting out a backoff).
Pages are yielded as they arrive, so memory stays flat.

After the pass, :func:`.drift.verdict` decides: accept, re-check, or raise
:class:`IncompleteSyncError`. A re-check costs what it must:

* a *soft* signal only (a record that ends one page and starts the next) re-fetches just
  those pages. If they come back the same, the data simply holds an exact duplicate
  there, and the pass is accepted; if not, the data moved: a full re-walk follows;
* a *hard* signal (totals changed, counts mismatch) walks every page once more, at most
  ``max_drift_passes`` times. The pass before told the page count, so a re-walk plans
  pages 2..N beside page 1 (a paginator's optional ``expect(total_pages)``) instead of
  waiting for page 1. Pages of a re-walk are yielded too: the client returns
  every record it received, and the processor deduplicates.

Every suspicion and every re-check, with its reason, is an event logged at warning.

Page size: with ``--per-page auto`` a 400/422 on page 1 falls back, once, to the API's
default size (:meth:`.pagination.PageNumberPaginator.refused`), said in one info event.
A paginator that reports ``finished`` (inflated totals: records complete and an empty
page) ends the pass at once; the pages it had planned are not walked.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing

from ..errors import FatalAPIError, IncompleteSyncError, RetriableAPIError
from ..models import Page, RunStats
from .drift import Decision, PassLedger, page_digest, verdict
from .envelope import read_envelope
from .fetcher import Emit, FetchedPage, PageFetcher
from .page_store import PageStore, StoreIdentity
from .pagination import PageRequest, PageSize, Paginator, ReceivedPage

__all__ = ["SyncLoop"]

#: Pages in progress at once, as a multiple of ``concurrency``: the extra ones are
#: waiting out a backoff, so a slow page never stalls the others.
WINDOW_FACTOR = 4
#: A soft drift signal re-fetches the pages on each side of the boundaries it names, up
#: to this many pages; more than that is re-walked in full.
MAX_SOFT_RECHECK_PAGES = 16


class SyncLoop:
    def __init__(
        self,
        *,
        fetcher: PageFetcher,
        paginator_factory: Callable[[], Paginator],
        store: PageStore | None,
        stats: RunStats,
        emit: Emit,
        masked_base_url: str,
        page_size: PageSize,
        concurrency: int,
        max_drift_passes: int,
    ) -> None:
        self._fetcher = fetcher
        self._paginator_factory = paginator_factory
        self._store = store
        self._stats = stats
        self._emit = emit
        self._base_url = masked_base_url
        self._size = page_size
        self._requests: dict[int, PageRequest] = {}
        self._window = concurrency * WINDOW_FACTOR
        self._max_passes = max_drift_passes

    async def pages(self) -> AsyncGenerator[Page, None]:
        previous: PassLedger | None = None
        for pass_no in range(self._max_passes + 1):
            ledger = PassLedger()
            if pass_no > 0:
                self._fetcher.new_pass()
            known = previous.expected_pages if previous is not None else None
            async with aclosing(self._walk(pass_no, ledger, known)) as walk:
                async for page in walk:
                    yield page
            self._stats.reported_total = ledger.first_total
            self._stats.reported_total_pages = ledger.first_total_pages
            decision = verdict(ledger, previous)
            if decision is Decision.ACCEPT:
                return
            self._note_drift(pass_no, ledger, previous)
            if previous is None and self._max_passes > 0 and await self._soft_recheck(ledger):
                return
            if decision is Decision.STABLE_BUT_SHORT:
                raise IncompleteSyncError(
                    f"sync incomplete: received {ledger.records} records but the API reports "
                    f"total={ledger.first_total}, on two passes that agree",
                    hint="the API's total does not match its pages",
                )
            if pass_no == self._max_passes:
                if not any(s.hard for s in ledger.signals()) and previous is None:
                    return  # a suspicion only, and no re-check allowed: reported, not fatal
                detail = "; ".join(s.detail for s in ledger.signals()) or (
                    "the pages changed between the last two passes"
                )
                raise IncompleteSyncError(
                    f"sync incomplete: the data kept changing through {self._max_passes} "
                    f"re-check pass(es) ({detail})",
                    hint="run again later, or raise max_drift_passes",
                )
            previous = ledger
            reasons = "; ".join(s.detail for s in ledger.signals()) or "the pages changed"
            self._emit("recheck_started", **{"pass": pass_no + 1, "reason": reasons})

    async def _soft_recheck(self, ledger: PassLedger) -> bool:
        """Only soft signals: re-fetch the pages they name. True if they still agree."""
        signals = ledger.signals()
        if not signals or any(s.hard for s in signals):
            return False
        pages = ledger.shifted_pages()
        if not pages or len(pages) > MAX_SOFT_RECHECK_PAGES:
            return False
        if any(n not in self._requests for n in pages):
            return False
        self._emit(
            "recheck_started",
            **{"pass": 1, "pages": ",".join(map(str, pages)), "reason": signals[0].detail},
        )
        fetched = await asyncio.gather(*(self._fetcher.fetch(self._requests[n]) for n in pages))
        self._stats.refetched_pages += len(pages)
        moved = [
            n
            for n, got in zip(pages, fetched, strict=True)
            if page_digest(got.received.records) != ledger.pages.get(n)
        ]
        if moved:
            return False
        detail = (
            f"pages {', '.join(map(str, pages))} fetched again are unchanged: the data holds "
            "an exact duplicate there; accepted"
        )
        self._emit("recheck_passed", **{"pass": 1, "detail": detail})
        self._stats.drift_events.append(f"pass 1: {detail}")
        return True

    def _note_drift(self, pass_no: int, ledger: PassLedger, previous: PassLedger | None) -> None:
        signals = ledger.signals()
        changed = previous is not None and not ledger.agrees_with(previous)
        confirmed = changed or any(s.hard for s in signals)
        details = [s.detail for s in signals]
        if changed:
            details.insert(0, "the pages changed since the previous pass")
        name = "drift_detected" if confirmed else "drift_suspected"
        for detail in details:
            self._emit(name, **{"pass": pass_no, "detail": detail})
            self._stats.drift_events.append(
                f"pass {pass_no}: {detail}" if confirmed else f"pass {pass_no}: suspected: {detail}"
            )
        if confirmed:
            self._stats.drift_detected = True

    async def _walk(
        self, pass_no: int, ledger: PassLedger, known_pages: int | None = None
    ) -> AsyncGenerator[Page, None]:
        paginator = self._paginator_factory()
        queue: deque[PageRequest] = deque([paginator.first()])
        expect = getattr(paginator, "expect", None)
        if known_pages and callable(expect):  # a re-walk: every page at once, not page 1 first
            queue.extend(expect(known_pages))
        running: dict[asyncio.Task[FetchedPage], PageRequest] = {}
        started = False
        try:
            while queue or running:
                while queue and len(running) < self._window:
                    request = queue.popleft()
                    use_store = started and pass_no == 0
                    task = asyncio.create_task(self._get(request, paginator, use_store))
                    running[task] = request
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in sorted(done, key=lambda t: running[t].number):
                    request = running.pop(task)
                    try:
                        got = task.result()
                    except FatalAPIError as exc:
                        retry = _refused(paginator, request, exc) if not started else None
                        if retry is None:
                            raise
                        self._emit(
                            "per_page_fallback",
                            requested=request.params.get("per_page"),
                            status=exc.status,
                            detail="the API refused the large page size on page 1; "
                            "using its default page size",
                        )
                        queue.append(retry)
                        continue
                    received = got.received
                    number = received.request.number
                    first, started = not started, True
                    repeated = ledger.add(
                        number, received.records, received.total, received.total_pages
                    )
                    if repeated is not None:
                        raise FatalAPIError(
                            f"paging loop: page {number} holds the same records as page {repeated}",
                            page=number,
                            hint="the server ignores the page parameter",
                        )
                    self._requests[number] = received.request
                    queue.extend(paginator.advance(received))
                    if first and pass_no == 0:
                        self._start(received)  # after advance: the granted size is known
                    if getattr(paginator, "finished", False) and (queue or running):
                        queue.clear()
                        for other in running:
                            other.cancel()
                    if self._store is not None and not got.from_checkpoint:
                        self._store.save(number, got.body, content=got.content)
                    yield self._deliver(pass_no, got)
                if getattr(paginator, "finished", False) and running:
                    await asyncio.gather(*running, return_exceptions=True)
                    running.clear()
            note = getattr(paginator, "stopped_early", None)
            if isinstance(note, str) and pass_no == 0:
                self._stats.paging_note = note
                self._emit("paging_stopped_early", detail=note)
        finally:
            for task in running:
                task.cancel()
            if running:
                await asyncio.gather(*running, return_exceptions=True)

    def _start(self, first: ReceivedPage) -> None:
        size = self._size
        granted = size.granted or size.requested or len(first.records)
        self._stats.per_page = granted or None
        self._emit(
            "sync_started",
            url=self._base_url,
            per_page=granted,
            total=first.total,
            total_pages=first.total_pages,
        )
        if self._store is not None:
            self._store.begin(StoreIdentity(self._base_url, granted, first.total))

    async def _get(
        self, request: PageRequest, paginator: Paginator, use_store: bool
    ) -> FetchedPage:
        if use_store and self._store is not None:
            body = self._store.load(request.number)
            if body is not None:
                try:
                    envelope = read_envelope(body, page=request.number)
                    received = ReceivedPage(
                        request, body, envelope.records, envelope.total, envelope.total_pages
                    )
                    paginator.check(received)
                except (RetriableAPIError, FatalAPIError):
                    pass  # a stored page that no longer makes sense is fetched again
                else:
                    return FetchedPage(
                        received, body, from_cache=False, attempts=0, from_checkpoint=True
                    )
        return await self._fetcher.fetch(request, paginator.check)

    def _deliver(self, pass_no: int, got: FetchedPage) -> Page:
        received = got.received
        stats = self._stats
        stats.pages += 1
        stats.records += len(received.records)
        if got.from_checkpoint:
            stats.pages_from_checkpoint += 1
            stats.resumed = True
        if pass_no > 0:
            stats.refetched_pages += 1
        self._emit(
            "page_fetched",
            page=received.request.number,
            records=len(received.records),
            from_cache=got.from_cache,
            from_checkpoint=got.from_checkpoint,
            **{"pass": pass_no},
        )
        return Page(
            number=received.request.number,
            records=received.records,
            total=received.total,
            total_pages=received.total_pages,
            from_cache=got.from_cache,
            from_checkpoint=got.from_checkpoint,
            pass_number=pass_no,
        )


def _refused(paginator: Paginator, request: PageRequest, exc: FatalAPIError) -> PageRequest | None:
    """The fallback request a strategy offers when page 1 is refused (400/422), if any."""
    refused = getattr(paginator, "refused", None)
    if refused is None or request.number != 1:
        return None
    retry = refused(request.number, exc.status)
    return retry if isinstance(retry, PageRequest) else None
