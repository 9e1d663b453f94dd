"""Fetch one page with the full retry policy.

The unit retried is the whole of *fetch, parse and validate*: a 200 whose body is not
JSON, or has no ``data`` list, is retried like a 503. Only the causes named in
:mod:`.retry` are retried; everything else raises at once.

* Errors (5xx, 408, timeouts, resets, bad bodies) spend the page's ``max_retries``
  budget, waiting ``backoff_base * backoff_factor ** (n - 1)`` (capped, jittered) while
  the server looks in trouble, ``backoff_base`` while it answers the other pages fine,
  or the server's ``Retry-After`` when it sent a valid one.
* 429s spend the run's ``rate_limit_wait_budget`` instead (the sum of the 429 waits of
  all pages): the wait is ``Retry-After`` (capped at ``retry_after_cap``) or, without a
  usable header, the backoff. The limiter (:mod:`.ratelimit`) adapts the pace of the
  other pages, which carry on meanwhile.
* The request slot (``concurrency``) is held only while a request is on the wire, so a
  page waiting out its backoff never holds up the others. Once its wait is over, a retry
  goes out ahead of pages not tried yet (:mod:`.admission`).
* Hostile answers: the body is read as a stream and its *decoded* size (decompression
  included) is capped at ``max_response_bytes``: going over is a fatal error naming the
  page and the cap. One request, headers and body, must end within
  ``request_deadline`` seconds (on top of the per-read ``read_timeout``): a trickle fails
  like a timeout, and is retried. Every timeout is an event logged at warning.
* Slow answers: a request still unanswered well past the usual answer time gets a twin
  (hedging); the first of the two to end wins. One unanswered far longer is given up
  as stalled and retried (see :data:`HEDGE_FACTOR` and :data:`STALL_FACTOR`).
* Logs: each retry is a debug event; a ``retry_summary`` event (warning) sums them up at
  most every :data:`SUMMARY_EVERY` seconds (pages retrying, causes, waits).
"""

from __future__ import annotations

import asyncio
import random
import socket
import ssl
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Sequence
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

__all__ = ["MAX_429_PER_PAGE", "FetchedPage", "PageFetcher", "hedge_delay", "stall_limit"]

#: 429s in a row for one page before giving up, whatever the wait budget says
#: (a server answering ``Retry-After: 0`` forever must not spin the client forever).
MAX_429_PER_PAGE = 50
#: Seconds between two ``retry_summary`` events while retries happen.
SUMMARY_EVERY = 5.0
#: Retry causes that are timeouts (logged one by one, at warning).
TIMEOUT_CAUSES = frozenset(
    {"connect_timeout", "read_timeout", "pool_timeout", "write_timeout", "deadline", "stalled"}
)
#: A stalled answer: once this many answers have been timed, a request with no complete
#: answer after STALL_FACTOR times their 95th percentile (at least STALL_FLOOR seconds, at
#: most ``read_timeout``) is given up as stalled, and retried. A server that accepts the
#: connection and sends nothing then costs seconds, not the whole read timeout. A page's
#: last allowed attempt always gets the whole ``read_timeout``: a server that is just
#: slow still gets its chance (and its answer times then raise the limit).
STALL_SAMPLES = 5
STALL_FACTOR = 10.0
STALL_FLOOR = 2.0
#: Hedging (Dean and Barroso, "The Tail at Scale"): once STALL_SAMPLES answers are timed,
#: a request still unanswered HEDGE_FACTOR times their 95th percentile after it went out
#: (at least HEDGE_FLOOR seconds) gets a twin through the same gate and limiter; the first
#: of the two to end wins and the other is cancelled. A stalled answer then costs about
#: HEDGE_FLOOR, while a slow one still counts if it ends first. Twins are at most
#: HEDGE_SHARE of the requests sent, so a server that slows down as a whole is not
#: asked everything twice. A twin takes the next free connection ahead of first attempts
#: (it is a retry, see :mod:`.admission`); with ``concurrency`` 1 there is none to take.
HEDGE_FACTOR = 3.0
HEDGE_FLOOR = 0.5
HEDGE_SHARE = 0.1
#: Backoff grows (1, 2, 4 s) only while the server looks in trouble. Exponential backoff
#: protects a server that is failing as a whole; one that answers its other requests fine
#: gains nothing from a page waiting longer, and the run's tail would be that page's
#: 1 + 2 + 4 s. In trouble: fewer than HEALTHY_SHARE of the last HEALTH_WINDOW attempts
#: were good (once HEALTH_MIN are known); before that, the failure itself says so when it
#: is one of OVERLOAD_CAUSES (a garbled body or a reset says nothing about load).
HEALTH_WINDOW = 20
HEALTH_MIN = 5
HEALTHY_SHARE = 0.5
OVERLOAD_CAUSES = frozenset(
    {"connect_error", "http_408", "http_500", "http_502", "http_503", "http_504"}
    | TIMEOUT_CAUSES
)

Emit = Callable[..., None]
Check = Callable[[ReceivedPage], None]


@dataclass(frozen=True, slots=True)
class FetchedPage:
    """A page as the fetch loop got it: from the API (after ``attempts`` tries), from the
    ETag cache, or from the page store (the checkpoint, with ``attempts`` 0)."""

    received: ReceivedPage
    body: dict[str, Any]
    from_cache: bool
    attempts: int
    from_checkpoint: bool = False
    #: The bytes ``body`` was decoded from, when it came from the network: the page store
    #: keeps them as they are instead of encoding ``body`` again.
    content: bytes | None = None


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
        clock: Callable[[], float] | None = None,
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
        self._clock = clock or limiter.clock
        self._summary = _RetrySummary()
        self._answer_times: deque[float] = deque(maxlen=200)
        self._timed = asyncio.Event()  # set once STALL_SAMPLES answers are timed
        self._waiting: dict[object, tuple[asyncio.Timeout, float]] = {}
        self._outcomes: deque[bool] = deque(maxlen=HEALTH_WINDOW)  # good answer or not

    def new_pass(self) -> None:
        """A new pass over the data: the limiter resumes at the best rate it learned."""
        self._limiter.new_pass()

    async def fetch(self, request: PageRequest, check: Check | None = None) -> FetchedPage:
        """The page, after as many attempts as the policy allows."""
        page = request.number
        causes: Counter[str] = Counter()
        errors = throttled = attempt = 0
        while True:
            attempt += 1
            began = self._clock()
            try:
                patient = errors >= self._settings.max_retries  # the last allowed attempt
                fetched = await self._attempt(
                    request, check, Priority.of_attempt(attempt), patient=patient
                )
            except RetriableAPIError as exc:
                causes[exc.cause] += 1
                if exc.cause == "rate_limited":
                    throttled += 1
                    wait = self._throttle_wait(exc, throttled, causes)
                else:
                    errors += 1
                    self._outcomes.append(False)
                    if errors > self._settings.max_retries:
                        # a connect failure names host, port and kind first
                        last = exc.message.removeprefix(f"page {page}: ")
                        said = f"{last}; " if last.startswith("cannot connect") else ""
                        raise RetryBudgetExhausted(
                            f"page {page}: {said}giving up after {attempt} attempts "
                            f"({_describe(causes)})",
                            page=page,
                            causes=causes,
                        ) from exc
                    wait = self._error_wait(exc, errors)
                    if exc.cause in TIMEOUT_CAUSES:  # the wait for the timeout counts
                        wait = max(0.0, wait - (self._clock() - began))
                self._stats.retries[exc.cause] += 1
                self._stats.waited_seconds += wait
                self._emit("retry", page=page, attempt=attempt, cause=exc.cause, wait=wait)
                if exc.cause in TIMEOUT_CAUSES:
                    self._emit("request_timeout", page=page, attempt=attempt, error=exc.message)
                self._note_retry(page, exc.cause, wait)
                await self._sleep(wait)
            else:
                self._outcomes.append(True)
                return FetchedPage(
                    fetched.received,
                    fetched.body,
                    fetched.from_cache,
                    attempt,
                    content=fetched.content,
                )

    def _note_retry(self, page: int, cause: str, wait: float) -> None:
        summary = self._summary
        summary.add(page, cause, wait)
        now = self._clock()
        if now - summary.emitted_at >= SUMMARY_EVERY:
            self._emit("retry_summary", **summary.fields(self._limiter.rate))
            summary.reset(now)

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
        return self._backoff(n if self.in_trouble(exc.cause) else 1)

    def in_trouble(self, cause: str) -> bool:
        """Whether the server looks in trouble after a failure of ``cause``: most recent
        attempts failed, or (too few known) the cause is one of :data:`OVERLOAD_CAUSES`."""
        seen = self._outcomes
        if len(seen) >= HEALTH_MIN:
            return sum(seen) < HEALTHY_SHARE * len(seen)
        return cause in OVERLOAD_CAUSES

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
        self, request: PageRequest, check: Check | None, priority: Priority, patient: bool
    ) -> FetchedPage:
        """One attempt at a page; a twin after the hedge delay if it is still unanswered."""
        sent = asyncio.Event()
        first = asyncio.ensure_future(self._request(request, check, priority, patient, sent))
        racers = [first]
        try:
            on_wire = asyncio.ensure_future(sent.wait())
            await asyncio.wait([first, on_wire], return_when=asyncio.FIRST_COMPLETED)
            on_wire.cancel()
            loop = asyncio.get_running_loop()
            went_out = loop.time()
            if self._hedge_delay() is None:  # not known yet: it may be, while this waits
                known = asyncio.ensure_future(self._timed.wait())
                await asyncio.wait([first, known], return_when=asyncio.FIRST_COMPLETED)
                known.cancel()
            delay = self._hedge_delay()
            if first.done() or delay is None:
                return await first
            left = max(0.0, went_out + delay - loop.time())
            done, _ = await asyncio.wait([first], timeout=left)
            if done or not self._may_hedge():
                return await first
            self._stats.hedged += 1
            self._emit("request_hedged", page=request.number, after=round(delay, 3))
            racers.append(
                asyncio.ensure_future(self._request(request, check, Priority.RETRY, patient))
            )
            done, _ = await asyncio.wait(racers, return_when=asyncio.FIRST_COMPLETED)
            winner = first if first in done else racers[1]
            return winner.result()
        finally:
            losers = [task for task in racers if not task.done()]
            for task in losers:
                task.cancel()
            if losers:
                await asyncio.gather(*losers, return_exceptions=True)
            for task in racers:  # a loser's failure is not the page's failure
                if task.done() and not task.cancelled():
                    task.exception()

    def _hedge_delay(self) -> float | None:
        return hedge_delay(self._answer_times, self._settings.read_timeout)

    def _may_hedge(self) -> bool:
        """Within the hedge share, and with a second connection for the twin to use."""
        within = self._stats.hedged < max(1.0, HEDGE_SHARE * self._stats.requests)
        return within and self._settings.concurrency > 1

    async def _request(
        self,
        request: PageRequest,
        check: Check | None,
        priority: Priority,
        patient: bool,
        sent: asyncio.Event | None = None,
    ) -> FetchedPage:
        """One HTTP request through the gate (slot and token), its answer read and judged."""
        page = request.number
        url = httpx.URL(request.url or self._endpoint)
        if request.params:
            url = url.copy_merge_params(dict(request.params))
        masked = mask_url(str(url))
        cached = self._cache.get(masked) if self._cache is not None else None
        headers = {"If-None-Match": cached.etag} if cached is not None else {}
        async with self._gate.admit(priority) as ticket:
            self._stats.requests += 1
            if sent is not None:
                sent.set()
            try:
                response, content = await self._send(
                    url, headers, page, masked, ticket, patient
                )
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
        patient: bool = False,
    ) -> tuple[httpx.Response, bytes]:
        """One request and its whole body, within the deadline; failures translated."""
        deadline = self._settings.request_deadline
        stall = None if patient else self._stall_limit()
        started = self._clock()
        loop = asyncio.get_running_loop()
        began = loop.time()
        key = object()
        try:
            async with asyncio.timeout(deadline if stall is None else min(deadline, stall)) as cm:
                if not patient:  # a limit learned while it waits applies to it too
                    self._waiting[key] = (cm, began)
                answer = await self._exchange(url, headers, page, masked, ticket, started)
        except TimeoutError as exc:
            waited = loop.time() - began
            if waited < deadline * 0.999:
                raise RetriableAPIError(
                    f"page {page}: no complete answer from {masked} in {waited:.1f} s, "
                    f"{STALL_FACTOR:g}x the usual answer time: a stalled server",
                    cause="stalled",
                    page=page,
                ) from exc
            raise self._deadline_failure(page, masked) from exc
        finally:
            self._waiting.pop(key, None)
        self._answer_times.append(loop.time() - began)
        if len(self._answer_times) >= STALL_SAMPLES:
            self._timed.set()
        self._tighten(deadline)
        return answer

    def _tighten(self, deadline: float) -> None:
        """Apply the stall limit, as it is now, to the requests already waiting."""
        limit = self._stall_limit()
        if limit is None or limit >= deadline:
            return
        for cm, began in self._waiting.values():
            cm.reschedule(began + limit)

    def _stall_limit(self) -> float | None:
        return stall_limit(self._answer_times, self._settings.read_timeout)

    def _deadline_failure(self, page: int, masked: str) -> RetriableAPIError:
        return RetriableAPIError(
            f"page {page}: no complete answer from {masked} within the "
            f"{self._settings.request_deadline:g} s request deadline",
            cause="deadline",
            page=page,
        )

    async def _exchange(
        self,
        url: httpx.URL,
        headers: dict[str, str],
        page: int,
        masked: str,
        ticket: SendTicket,
        started: float,
    ) -> tuple[httpx.Response, bytes]:
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
        cap = self._settings.max_response_bytes
        deadline = self._settings.request_deadline
        try:
            self._limiter.observe(ticket, response.status_code, response.headers)
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > cap:
                    raise FatalAPIError(
                        f"page {page}: the answer from {masked} is larger than the "
                        f"{_bytes(cap)} cap once decoded",
                        page=page,
                        status=response.status_code,
                        hint="raise --max-response-bytes if pages really are that large",
                    )
                if self._clock() - started > deadline:  # a trickle, on the injected clock
                    raise self._deadline_failure(page, masked)
                chunks.append(chunk)
            content = b"".join(chunks)
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
        return FetchedPage(received, body, from_cache, 1, content=None if from_cache else content)

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
        if status == 404 and page == 1:
            return FatalAPIError(
                message,
                page=page,
                status=status,
                hint=f"not retried; check the base path of --api-url: requested {masked}",
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
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        url = httpx.URL(masked)
        port = url.port or {"http": 80, "https": 443}.get(url.scheme)
        return RetriableAPIError(
            f"page {page}: cannot connect to {url.host}:{port}: {connect_failure_kind(exc)}",
            cause=cause,
            page=page,
        )
    return RetriableAPIError(f"page {page}: {cause} talking to {masked}", cause=cause, page=page)


def connect_failure_kind(exc: httpx.TransportError) -> str:
    """What went wrong connecting: DNS, refused, TLS or a timeout (from the cause chain)."""
    if isinstance(exc, httpx.ConnectTimeout):
        return "timed out"
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, socket.gaierror):
            return "DNS lookup failed"
        if isinstance(current, ConnectionRefusedError):
            return "connection refused"
        if isinstance(current, ssl.SSLError):
            return "TLS handshake failed"
        if isinstance(current, TimeoutError | socket.timeout):
            return "timed out"
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    text = str(exc).lower()
    if "name or service not known" in text or "nodename nor servname" in text:
        return "DNS lookup failed"
    if "temporary failure in name resolution" in text or "getaddrinfo" in text:
        return "DNS lookup failed"
    if "connection refused" in text:
        return "connection refused"
    return "connection failed"


def stall_limit(times: Sequence[float], read_timeout: float) -> float | None:
    """Seconds after which an answer counts as stalled, once enough answers were timed:
    ``STALL_FACTOR`` × their 95th percentile, at least ``STALL_FLOOR``, at most
    ``read_timeout``. ``None`` until ``STALL_SAMPLES`` answers are known."""
    if len(times) < STALL_SAMPLES:
        return None
    p95 = sorted(times)[int(0.95 * (len(times) - 1))]
    return min(read_timeout, max(STALL_FLOOR, STALL_FACTOR * p95))


def hedge_delay(times: Sequence[float], read_timeout: float) -> float | None:
    """Seconds after which a request still unanswered gets a twin: ``HEDGE_FACTOR`` ×
    the 95th percentile of the answer times, at least ``HEDGE_FLOOR``, at most
    ``read_timeout``. ``None`` until ``STALL_SAMPLES`` answers are known."""
    if len(times) < STALL_SAMPLES:
        return None
    p95 = sorted(times)[int(0.95 * (len(times) - 1))]
    return min(read_timeout, max(HEDGE_FLOOR, HEDGE_FACTOR * p95))


def _bytes(n: int) -> str:
    """``67108864`` -> ``64 MiB``; other sizes in bytes."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n:,} bytes"


class _RetrySummary:
    """Retries since the last ``retry_summary`` event."""

    def __init__(self) -> None:
        self.emitted_at = float("-inf")
        self.pages: set[int] = set()
        self.causes: Counter[str] = Counter()
        self.waited = 0.0

    def add(self, page: int, cause: str, wait: float) -> None:
        self.pages.add(page)
        self.causes[cause] += 1
        self.waited += wait

    def fields(self, rate: float | None) -> dict[str, Any]:
        return {
            "pages_retrying": len(self.pages),
            "retries": sum(self.causes.values()),
            "causes": dict(sorted(self.causes.items())),
            "waited_seconds": round(self.waited, 3),
            "rate": None if rate is None else round(rate, 2),
        }

    def reset(self, now: float) -> None:
        self.emitted_at = now
        self.pages.clear()
        self.causes.clear()
        self.waited = 0.0


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
