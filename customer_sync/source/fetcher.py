"""Fetch one page with the full retry policy.

The unit retried is the whole of *fetch, parse and validate*: a 200 whose body is not
JSON, or has no ``data`` list, is retried like a 503. Only the causes named in
:mod:`.retry` are retried; everything else raises at once.

* Errors (5xx, 408, timeouts, resets, bad bodies) spend the page's ``max_retries``
  budget, waiting ``backoff_base * backoff_factor ** (n - 1)`` (capped, jittered), or
  the server's ``Retry-After`` when it sent a valid one.
* 429s spend the run's ``rate_limit_wait_budget`` instead (the sum of the 429 waits of
  all pages): the wait is ``Retry-After`` (capped at ``retry_after_cap``) or, without a
  usable header, the backoff. The limiter (:mod:`.ratelimit`) adapts the pace of the
  other pages, which carry on meanwhile.
* The request slot (``concurrency``) is held only while a request is on the wire, so a
  page waiting out its backoff never holds up the others. Once its wait is over, a retry
  goes out ahead of pages not tried yet (:mod:`.admission`).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from ..errors import (
    AuthError,
    FatalAPIError,
    RetriableAPIError,
    RetryBudgetExhausted,
)
from ..models import RunStats
from ..redaction import mask_url, scrub
from .admission import Priority, RequestGate
from .cache import CachedPage, ETagCache
from .envelope import decode_body, read_envelope
from .pagination import PageRequest, ReceivedPage
from .ratelimit import AdaptiveRateLimiter, SendTicket
from .retry import (
    AUTH_STATUSES,
    RETRIABLE_STATUSES,
    certificate_failure,
    compute_backoff,
    parse_retry_after,
    status_cause,
    transport_cause,
)
from .settings import ClientSettings

__all__ = ["MAX_429_PER_PAGE", "FetchedPage", "PageFetcher"]

#: 429s in a row for one page before giving up, whatever the wait budget says
#: (a server answering ``Retry-After: 0`` forever must not spin the client forever).
MAX_429_PER_PAGE = 50

Emit = Callable[..., None]
Check = Callable[[ReceivedPage], None]


@dataclass(frozen=True, slots=True)
class FetchedPage:
    received: ReceivedPage
    body: dict[str, Any]
    from_cache: bool
    attempts: int


def _describe(causes: Counter[str]) -> str:
    return ", ".join(f"{cause} x{n}" for cause, n in sorted(causes.items()))


class PageFetcher:
    """One run's page fetching: HTTP, cache, limiter, budgets and stats."""

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        endpoint: str,
        settings: ClientSettings,
        stats: RunStats,
        emit: Emit,
        limiter: AdaptiveRateLimiter,
        cache: ETagCache | None,
        sleep: Callable[[float], Awaitable[None]],
        wall_clock: Callable[[], float],
        rng: random.Random,
        secrets: tuple[str, ...] = (),
    ) -> None:
        self._http = http
        self._endpoint = endpoint
        self._settings = settings
        self._stats = stats
        self._emit = emit
        self._limiter = limiter
        self._cache = cache
        self._sleep = sleep
        self._wall_clock = wall_clock
        self._rng = rng
        self._secrets = secrets
        self._gate = RequestGate(concurrency=settings.concurrency, limiter=limiter)
        self._rate_waited = 0.0

    async def fetch(self, request: PageRequest, check: Check | None = None) -> FetchedPage:
        """The page, after as many attempts as the policy allows."""
        page = request.number
        causes: Counter[str] = Counter()
        errors = throttled = attempt = 0
        while True:
            attempt += 1
            try:
                fetched = await self._attempt(request, check, Priority.of_attempt(attempt))
            except RetriableAPIError as exc:
                causes[exc.cause] += 1
                if exc.cause == "rate_limited":
                    throttled += 1
                    wait = self._throttle_wait(exc, throttled, causes)
                else:
                    errors += 1
                    if errors > self._settings.max_retries:
                        raise RetryBudgetExhausted(
                            f"page {page}: giving up after {attempt} attempts "
                            f"({_describe(causes)})",
                            page=page,
                            causes=causes,
                        ) from exc
                    wait = self._error_wait(exc, errors)
                self._stats.retries[exc.cause] += 1
                self._stats.waited_seconds += wait
                self._emit("retry", page=page, attempt=attempt, cause=exc.cause, wait=wait)
                await self._sleep(wait)
            else:
                return FetchedPage(fetched.received, fetched.body, fetched.from_cache, attempt)

    # -- waits ----------------------------------------------------------------------
    def _backoff(self, n: int) -> float:
        s = self._settings
        return compute_backoff(
            n,
            base=s.backoff_base,
            factor=s.backoff_factor,
            maximum=s.backoff_max,
            jitter=s.jitter,
            rng=self._rng,
        )

    def _error_wait(self, exc: RetriableAPIError, n: int) -> float:
        if exc.retry_after is not None:
            return min(exc.retry_after, self._settings.retry_after_cap)
        return self._backoff(n)

    def _throttle_wait(self, exc: RetriableAPIError, n: int, causes: Counter[str]) -> float:
        page = exc.page
        self._stats.rate_limited += 1
        header = exc.headers.get("retry-after")
        if exc.retry_after is not None:
            wait, source = min(exc.retry_after, self._settings.retry_after_cap), "retry_after"
        else:
            wait, source = self._backoff(n), "backoff"
        budget = self._settings.rate_limit_wait_budget
        if n > MAX_429_PER_PAGE:
            raise RetryBudgetExhausted(
                f"page {page}: still rate-limited after {MAX_429_PER_PAGE} 429s "
                f"({_describe(causes)})",
                page=page,
                causes=causes,
            ) from exc
        if self._rate_waited + wait > budget:
            raise RetryBudgetExhausted(
                f"page {page}: rate-limit wait budget exhausted ({self._rate_waited:.1f} s "
                f"waited of {budget:.1f} s; {_describe(causes)})",
                page=page,
                causes=causes,
            ) from exc
        self._rate_waited += wait
        self._emit(
            "rate_limited",
            page=page,
            wait=wait,
            source=source,
            retry_after=header,
            rate=self._limiter.rate,
        )
        return wait

    # -- one attempt ----------------------------------------------------------------
    async def _attempt(
        self, request: PageRequest, check: Check | None, priority: Priority
    ) -> FetchedPage:
        page = request.number
        url = httpx.URL(request.url or self._endpoint)
        if request.params:
            url = url.copy_merge_params(dict(request.params))
        masked = mask_url(str(url))
        cached = self._cache.get(masked) if self._cache is not None else None
        headers = {"If-None-Match": cached.etag} if cached is not None else {}
        async with self._gate.admit(priority) as ticket:
            self._stats.requests += 1
            try:
                response, content = await self._send(url, headers, page, masked, ticket)
            finally:
                if not ticket.done:  # no answer (cancelled, or a failure before headers)
                    self._limiter.observe(ticket, None, {})
        return self._interpret(request, response, content, cached, masked, check)

    async def _send(
        self,
        url: httpx.URL,
        headers: dict[str, str],
        page: int,
        masked: str,
        ticket: SendTicket,
    ) -> tuple[httpx.Response, bytes]:
        """One request and its whole body; transport failures translated."""
        try:
            response = await self._http.send(
                self._http.build_request("GET", url, headers=headers), stream=True
            )
        except httpx.TransportError as exc:
            raise _transport_failure(exc, page, masked) from exc
        except httpx.TooManyRedirects as exc:
            raise FatalAPIError(
                f"page {page}: too many redirects from {masked}", page=page
            ) from exc
        try:
            self._limiter.observe(ticket, response.status_code, response.headers)
            content = await response.aread()
        except httpx.TransportError as exc:
            raise _transport_failure(exc, page, masked) from exc
        except httpx.DecodingError as exc:
            raise RetriableAPIError(
                f"page {page}: the body could not be decoded",
                cause="invalid_body",
                page=page,
                status=response.status_code,
            ) from exc
        finally:
            await response.aclose()
            self._stats.bytes_received += response.num_bytes_downloaded
        return response, content

    def _interpret(
        self,
        request: PageRequest,
        response: httpx.Response,
        content: bytes,
        cached: CachedPage | None,
        masked: str,
        check: Check | None,
    ) -> FetchedPage:
        page, status = request.number, response.status_code
        from_cache = False
        if status == 304 and cached is not None:
            body, from_cache = cached.body, True
        elif 200 <= status < 300:
            body = decode_body(content, page=page)
        else:
            raise self._status_failure(page, response, content, masked)
        envelope = read_envelope(body, page=page)
        received = ReceivedPage(
            request, body, envelope.records, envelope.total, envelope.total_pages, response.headers
        )
        if check is not None:
            check(received)
        if from_cache:
            self._stats.cache_hits += 1
        else:
            self._store(masked, response.headers.get("etag"), body)
        return FetchedPage(received, body, from_cache, 1)

    def _store(self, masked: str, etag: str | None, body: dict[str, Any]) -> None:
        if self._cache is None or not etag:
            return
        try:
            self._cache.put(masked, etag, body)
        except OSError as exc:  # a cache that cannot be written never fails a sync
            self._emit("cache_write_failed", url=masked, error=type(exc).__name__)

    def _status_failure(
        self, page: int, response: httpx.Response, content: bytes, masked: str
    ) -> Exception:
        status = response.status_code
        where = f"page {page}: HTTP {status} from {masked}"
        if status in RETRIABLE_STATUSES:
            header = response.headers.get("retry-after")
            return RetriableAPIError(
                where,
                cause=status_cause(status),
                page=page,
                status=status,
                retry_after=parse_retry_after(header, now=self._wall_clock()),
                headers={"retry-after": header} if header is not None else {},
            )
        said = _server_message(content)
        if said is not None:
            said = scrub(said, self._secrets)
        message = f"{where}{f': {said}' if said else ''}"
        if status in AUTH_STATUSES:
            return AuthError(
                message, page=page, status=status, hint="check the API key (x-api-key)"
            )
        if status == 304:
            message = f"{where}: not modified, but nothing is cached for it"
        return FatalAPIError(message, page=page, status=status, hint="not retried")


def _transport_failure(exc: httpx.TransportError, page: int, masked: str) -> Exception:
    refused = certificate_failure(exc)
    if refused is not None:
        url = httpx.URL(masked)
        host = f"{url.host}:{url.port}" if url.port else url.host
        why = refused.verify_message or refused.reason or "untrusted certificate"
        return FatalAPIError(
            f"page {page}: TLS certificate verification failed for {host} ({why})",
            page=page,
            hint="use a certificate your system trusts; only for a server you trust, "
            "--no-verify-tls (PIPELINE_VERIFY_TLS=false) turns the check off",
        )
    cause = transport_cause(exc)
    if cause is None:
        return FatalAPIError(
            f"page {page}: {type(exc).__name__} talking to {masked}", page=page, hint="not retried"
        )
    return RetriableAPIError(f"page {page}: {cause} talking to {masked}", cause=cause, page=page)


def _server_message(content: bytes) -> str | None:
    """The API's own short error text (``{"error": "..."}``), if it sent one."""
    try:
        body = decode_body(content, page=0)
    except RetriableAPIError:
        return None
    said = body.get("error")
    if isinstance(said, str) and said.strip():
        return said.strip()[:200]
    return None
