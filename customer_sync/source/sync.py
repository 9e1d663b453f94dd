"""The fetch loop: drives a pagination strategy, the page store and the drift re-check.

One *pass* walks the pages: it fetches ``paginator.first()``, and every page received
is handed to the paginator, which returns the requests it makes possible; those run
concurrently (at most ``concurrency`` on the wire, a few more waiting out a backoff).
Pages are yielded as they arrive, so memory stays flat.

After the pass, :func:`.drift.verdict` decides: accept, re-check (walk every page once
more, at most ``max_drift_passes`` times), or raise :class:`IncompleteSyncError`. Pages of
a re-check pass are yielded too: the client returns every record it received, and the
processor deduplicates.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from ..errors import FatalAPIError, IncompleteSyncError, RetriableAPIError
from ..models import Page, RunStats
from .drift import Decision, PassLedger, verdict
from .envelope import read_envelope
from .fetcher import Emit, PageFetcher
from .page_store import PageStore, StoreIdentity
from .pagination import PageRequest, Paginator, ReceivedPage

__all__ = ["SyncLoop"]

#: Pages in progress at once, as a multiple of ``concurrency``: the extra ones are
#: waiting out a backoff, so a slow page never stalls the others.
WINDOW_FACTOR = 4


@dataclass(frozen=True, slots=True)
class _Got:
    received: ReceivedPage
    body: dict[str, Any]
    from_cache: bool
    from_checkpoint: bool


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
        per_page: int,
        concurrency: int,
        max_drift_passes: int,
    ) -> None:
        self._fetcher = fetcher
        self._paginator_factory = paginator_factory
        self._store = store
        self._stats = stats
        self._emit = emit
        self._base_url = masked_base_url
        self._per_page = per_page
        self._window = concurrency * WINDOW_FACTOR
        self._max_passes = max_drift_passes

    async def pages(self) -> AsyncGenerator[Page, None]:
        previous: PassLedger | None = None
        for pass_no in range(self._max_passes + 1):
            ledger = PassLedger()
            async with aclosing(self._walk(pass_no, ledger)) as walk:
                async for page in walk:
                    yield page
            self._stats.reported_total = ledger.first_total
            self._stats.reported_total_pages = ledger.first_total_pages
            decision = verdict(ledger, previous)
            if decision is Decision.ACCEPT:
                return
            self._note_drift(pass_no, ledger, previous)
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
            self._emit("recheck_started", **{"pass": pass_no + 1})

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

    async def _walk(self, pass_no: int, ledger: PassLedger) -> AsyncGenerator[Page, None]:
        paginator = self._paginator_factory()
        queue: deque[PageRequest] = deque([paginator.first()])
        running: dict[asyncio.Task[_Got], PageRequest] = {}
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
                    del running[task]
                    got = task.result()
                    received = got.received
                    number = received.request.number
                    if not started:
                        started = True
                        if pass_no == 0:
                            self._start(received)
                    repeated = ledger.add(
                        number, received.records, received.total, received.total_pages
                    )
                    if repeated is not None:
                        raise FatalAPIError(
                            f"paging loop: page {number} holds the same records as page {repeated}",
                            page=number,
                            hint="the server ignores the page parameter",
                        )
                    queue.extend(paginator.advance(received))
                    if self._store is not None and not got.from_checkpoint:
                        self._store.save(number, got.body)
                    yield self._deliver(pass_no, got)
        finally:
            for task in running:
                task.cancel()
            if running:
                await asyncio.gather(*running, return_exceptions=True)

    def _start(self, first: ReceivedPage) -> None:
        self._emit(
            "sync_started",
            url=self._base_url,
            per_page=self._per_page,
            total=first.total,
            total_pages=first.total_pages,
        )
        if self._store is not None:
            self._store.begin(StoreIdentity(self._base_url, self._per_page, first.total))

    async def _get(self, request: PageRequest, paginator: Paginator, use_store: bool) -> _Got:
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
                    return _Got(received, body, from_cache=False, from_checkpoint=True)
        fetched = await self._fetcher.fetch(request, paginator.check)
        return _Got(fetched.received, fetched.body, fetched.from_cache, from_checkpoint=False)

    def _deliver(self, pass_no: int, got: _Got) -> Page:
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
        )
