"""``CustomerAPIClient``: every customer record the API holds, fetched politely.

Async inside, on one connection pool; :meth:`CustomerAPIClient.fetch_all_customers` is
the synchronous wrapper and :meth:`CustomerAPIClient.iter_pages` the streaming form::

    async with CustomerAPIClient(url, api_key=key, settings=ClientSettings(per_page=100)) as client:
        async for page in client.iter_pages():
            processor.add_batch(page.records)
        stats = client.stats

The pieces: :mod:`.pagination` (strategy), :mod:`.sync` (the loop and drift re-check),
:mod:`.fetcher` (one page, with the retry policy), :mod:`.ratelimit`, :mod:`.cache`,
:mod:`.session` (the httpx client), :mod:`.page_store` (the checkpoint seam).
"""

from __future__ import annotations

import asyncio
import random as random_module
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import aclosing, asynccontextmanager
from types import TracebackType
from typing import Any

import httpx
from pydantic import SecretStr

from ..errors import ConfigError
from ..events import Hook, null_hook
from ..models import Event, Page, RunStats
from ..redaction import mask_url
from .cache import ETagCache, FileETagCache
from .fetcher import PageFetcher
from .page_store import PageStore
from .pagination import PageNumberPaginator, PageRequest, PageSize, Paginator
from .ratelimit import AdaptiveRateLimiter
from .session import build_http_client
from .settings import ClientSettings
from .sync import SyncLoop

__all__ = ["CustomerAPIClient"]

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


class CustomerAPIClient:
    """Fetches every customer record from ``{base_url}/users``.

    ``settings`` is a :class:`ClientSettings` (see ``docs/client.md``); the API key stays
    a ``SecretStr`` until the request hook puts it into the header. The other keyword
    arguments are injected edges: ``transport`` (an
    ``httpx.AsyncBaseTransport``, e.g. ``ASGITransport(app)`` in tests), ``sleep``
    (async), ``clock`` (monotonic seconds: durations, pacing, event times),
    ``wall_clock`` (epoch seconds: HTTP-date ``Retry-After``), ``random`` (jitter),
    ``hook`` (receives every :class:`~customer_sync.models.Event`), ``page_store`` (checkpoint),
    ``paginator_factory`` (another pagination strategy) and ``wrap_paginator`` (a
    decorator of the default page-number strategy: incremental sync adds its parameter).
    """

    def __init__(
        self,
        base_url: str,
        api_key: SecretStr | str | None = None,
        *,
        settings: ClientSettings | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep | None = None,
        clock: Clock | None = None,
        wall_clock: Clock | None = None,
        random: random_module.Random | None = None,
        hook: Hook | None = None,
        page_store: PageStore | None = None,
        paginator_factory: Callable[[], Paginator] | None = None,
        wrap_paginator: Callable[[Paginator], Paginator] | None = None,
    ) -> None:
        self.settings = settings if settings is not None else ClientSettings()
        self.base_url = _check_base_url(base_url)
        self._api_key = _check_api_key(api_key)
        self._transport = transport
        self._sleep: Sleep = sleep or asyncio.sleep
        self._clock: Clock = clock or time.monotonic
        self._wall_clock: Clock = wall_clock or time.time
        self._random = random or random_module.Random()
        self._hook: Hook = hook or null_hook
        self._page_store = page_store
        self._custom_paginator = paginator_factory
        self._wrap_paginator = wrap_paginator
        self._page_size = self._new_page_size()
        self._cache: ETagCache | None = (
            FileETagCache(self.settings.cache_dir) if self.settings.cache_dir else None
        )
        self._http: httpx.AsyncClient | None = None
        #: The stats of the current (or last) sync; a new object per sync.
        self.stats = RunStats()

    def __repr__(self) -> str:
        key = "'***'" if self._api_key is not None else "None"
        return (
            f"CustomerAPIClient(base_url={mask_url(self.base_url)!r}, api_key={key}, "
            f"settings={self.settings!r})"
        )

    @property
    def endpoint(self) -> str:
        """``{base_url}/users``, keeping any query the base URL carries."""
        base = httpx.URL(self.base_url)
        return str(base.copy_with(path=base.path.rstrip("/") + "/users"))

    def _new_page_size(self) -> PageSize:
        return PageSize(self.settings.per_page, self.settings.max_per_page)

    def _paginators(self, size: PageSize) -> Callable[[], Paginator]:
        """A fresh paginator per pass; page-number ones share the sync's page size."""
        if self._custom_paginator is not None:
            return self._custom_paginator
        max_pages = self.settings.max_pages
        wrap = self._wrap_paginator
        if wrap is not None:  # e.g. incremental sync's updated_since on every request
            return lambda: wrap(PageNumberPaginator(per_page=size, max_pages=max_pages))
        return lambda: PageNumberPaginator(per_page=size, max_pages=max_pages)

    # -- lifecycle: one connection pool -------------------------------------------------
    async def __aenter__(self) -> CustomerAPIClient:
        if self._http is None:
            self._http = self._new_http()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        http, self._http = self._http, None
        if http is not None:
            await http.aclose()

    def _new_http(self) -> httpx.AsyncClient:
        return build_http_client(
            base_url=self.base_url,
            api_key=self._api_key,
            settings=self.settings,
            transport=self._transport,
        )

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[httpx.AsyncClient]:
        """The open pool, or a pool for this call only when the client was not entered."""
        if self._http is not None:
            yield self._http
            return
        http = self._new_http()
        try:
            yield http
        finally:
            await http.aclose()

    # -- events -----------------------------------------------------------------------
    def _emit(self, name: str, **fields: Any) -> None:
        self._hook(Event(name, self._clock(), fields))

    def _fetcher(self, http: httpx.AsyncClient, stats: RunStats) -> PageFetcher:
        limiter = AdaptiveRateLimiter(
            rate=self.settings.rate_limit,
            burst=self.settings.rate_limit_burst,
            clock=self._clock,
            sleep=self._sleep,
            on_change=lambda name, rate: self._emit(name, rate=rate),
            wall_clock=self._wall_clock,
        )
        return PageFetcher(
            http=http,
            endpoint=self.endpoint,
            settings=self.settings,
            stats=stats,
            emit=self._emit,
            limiter=limiter,
            cache=self._cache,
            sleep=self._sleep,
            wall_clock=self._wall_clock,
            rng=self._random,
            secrets=(self._api_key.get_secret_value(),) if self._api_key else (),
            clock=self._clock,
        )

    # -- the public forms -------------------------------------------------------------
    async def iter_pages(self) -> AsyncGenerator[Page, None]:
        """Every page, as it arrives (not in page order), drift re-check passes included.

        ``self.stats`` is a fresh :class:`RunStats` for this sync, updated as it goes.
        Raises :class:`~customer_sync.errors.SourceError` subclasses (see ``docs/client.md``).
        """
        stats = self.stats = RunStats()
        started = self._clock()
        size = self._page_size = self._new_page_size()
        async with self._session() as http:
            loop = SyncLoop(
                fetcher=self._fetcher(http, stats),
                paginator_factory=self._paginators(size),
                store=self._page_store,
                stats=stats,
                emit=self._emit,
                masked_base_url=mask_url(self.base_url),
                page_size=size,
                concurrency=self.settings.concurrency,
                max_drift_passes=self.settings.max_drift_passes,
            )
            try:
                async with aclosing(loop.pages()) as pages:
                    async for page in pages:
                        yield page
            finally:
                stats.duration_seconds = self._clock() - started
        self._emit("sync_finished", **stats.as_dict())

    async def afetch_all_customers(self) -> list[Any]:
        """Every record received, duplicates included, in arrival order."""
        records: list[Any] = []
        async for page in self.iter_pages():
            records.extend(page.records)
        return records

    def fetch_all_customers(self) -> list[Any]:
        """The synchronous wrapper: runs :meth:`afetch_all_customers` on a new event loop.

        The records are returned as received (the API's raw dicts, plus whatever
        malformed entries it sent): validation and dedup are the processor's job.
        """

        async def run() -> list[Any]:
            async with self:
                return await self.afetch_all_customers()

        return asyncio.run(run())

    async def _fetch_page(self, page: int | PageRequest) -> Page:
        """One page (page number, or a strategy's request) with the full retry policy."""
        paginator = PageNumberPaginator(
            per_page=self._page_size, max_pages=self.settings.max_pages
        )
        if isinstance(page, int):
            page = paginator.request(page)
        async with self._session() as http:
            fetched = await self._fetcher(http, self.stats).fetch(page, paginator.check)
        received = fetched.received
        return Page(
            number=page.number,
            records=received.records,
            total=received.total,
            total_pages=received.total_pages,
            from_cache=fetched.from_cache,
        )


def _check_api_key(api_key: SecretStr | str | None) -> SecretStr | None:
    if api_key is None:
        return None
    secret = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
    value = secret.get_secret_value()
    if not value or value != value.strip():
        raise ConfigError("the API key must be non-empty, without surrounding spaces")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        # httpx would send it and h11 refuse it, quoting the key in its error message
        raise ConfigError("the API key must not contain control characters (a newline?)")
    return secret


def _check_base_url(base_url: str) -> str:
    url = str(base_url).strip().rstrip("/")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ConfigError(f"invalid API URL {mask_url(url)!r}") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigError(
            f"invalid API URL {mask_url(url)!r}", hint="use http(s)://host/path, e.g. .../api"
        )
    return url
