"""APIs that answer unlike ours: page sizes (auto, refused, capped), inflated totals,
hostile bodies (too large, compressed bombs, trickles), and messages naming the cause."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from customer_sync.errors import FatalAPIError, IncompleteSyncError, RetryBudgetExhausted
from customer_sync.logs import log_hook
from customer_sync.models import Event
from customer_sync.source import fetcher
from customer_sync.source.fetcher import connect_failure_kind, hedge_delay, stall_limit
from customer_sync.source.page_store import InMemoryPageStore
from tests.source.test_rate_control import sim
from tests.test_api_client import FakeAPI, idle_snapshot, loopback, loopback_client, people

from ..chaos_support import FakeTime
from ..support import make_client
from ..virtual_time import VirtualTimeLoop


# -- page size ---------------------------------------------------------------------------------
def test_auto_asks_for_max_per_page_and_uses_what_is_granted() -> None:
    """The default asks for 100 a page: 1,000 customers take 10 requests, not 167."""
    api = sim(customers=1000)
    records, stats = api.fetch()
    assert len(records) == 1000
    assert stats.requests == 10
    assert stats.per_page == 100
    assert api.named("sync_started")[0]["per_page"] == 100


def test_auto_follows_an_api_that_silently_caps_the_page() -> None:
    """An API capping at 30 grants 30: later pages ask for 30, and nothing is missed."""
    api = sim(customers=200, max_per_page=30)
    records, stats = api.fetch()
    assert len(records) == 200
    assert stats.per_page == 30
    assert stats.requests == 7


def test_auto_learns_the_size_from_the_records_when_none_is_echoed() -> None:
    """Without an echoed per_page, page 1's record count against total gives the size."""
    fake = FakeAPI(people(20), tweak=lambda page, body: {k: v for k, v in body.items()
                                                         if k != "per_page"})
    client, _, _ = fake.client()
    assert len(client.fetch_all_customers()) == 20
    assert client.stats.per_page == 6


def test_a_refused_large_page_falls_back_once_to_the_api_default() -> None:
    """400 on page 1 for per_page=100: one info event, then the API's default size."""
    api = sim(customers=50, max_per_page=20, over_max_per_page="reject", default_per_page=6)
    records, stats = api.fetch()
    assert len(records) == 50
    (fallback,) = api.named("per_page_fallback")
    assert (fallback["requested"], fallback["status"]) == ("100", 400)
    assert stats.per_page == 6
    assert api.stats()["by_status"] == {200: 9, 400: 1}


def test_an_explicit_page_size_always_wins() -> None:
    """--per-page 50 against an API refusing more than 20 fails: no silent fallback."""
    api = sim(customers=50, max_per_page=20, over_max_per_page="reject")
    with pytest.raises(FatalAPIError, match=r"^page 1: HTTP 400 .*per_page must be at most 20"):
        api.fetch(per_page=50)
    assert not api.named("per_page_fallback")


def test_the_checkpoint_identity_records_the_granted_size() -> None:
    """The page store is keyed on the size the API granted, not on 'auto'."""
    api = sim(customers=100, max_per_page=25)
    store = InMemoryPageStore()
    client = api.client(page_store=store)
    client.fetch_all_customers()
    assert store.identity is not None
    assert store.identity.per_page == 25


# -- inflated totals ---------------------------------------------------------------------------
def test_99999_empty_pages_end_after_the_first_empty_page() -> None:
    """total_pages=99,999 with nothing on them: a handful of requests, complete, and noted."""
    api = sim(customers=0, claimed_total_pages=99_999)
    records, stats = api.fetch()
    assert records == []
    assert stats.requests <= 1 + 8 * 4
    assert stats.paging_note is not None
    assert "page 1 came back empty" in stats.paging_note
    assert api.named("paging_stopped_early")


def test_inflated_total_pages_after_real_data_stop_once_records_reach_total() -> None:
    """30 records claimed over 99,999 pages: all 30 fetched, the rest not walked."""
    api = sim(customers=30, claimed_total_pages=99_999)
    records, stats = api.fetch(per_page=10, concurrency=2)
    assert len(records) == 30
    assert stats.requests <= 4 + 2 * 4
    assert not stats.drift_detected
    assert stats.paging_note is not None


def test_inflated_total_too_ends_in_seconds_with_a_clear_error() -> None:
    """total=500 and 99,999 pages, all empty: given up after 64 empty pages, one line."""
    fake = FakeAPI(people(6), tweak=lambda page, body: {
        "page": page, "per_page": 6, "total": 500, "total_pages": 99_999, "data": []})
    client, _, _ = fake.client()
    with pytest.raises(IncompleteSyncError, match=r"received 0 records but the API reports "
                       r"total=500"):
        client.fetch_all_customers()
    assert len(fake.requests) <= 2 * (64 + 32)
    assert client.stats.paging_note is not None


# -- hostile bodies ----------------------------------------------------------------------------
def test_a_gzip_bomb_is_stopped_at_the_decoded_size_cap() -> None:
    """A small gzip body inflating past the cap fails at once, naming the page and the cap."""
    api = sim(customers=12, body_padding_bytes=8 << 20, gzip_bodies=True)
    with pytest.raises(FatalAPIError) as caught:
        api.fetch(max_response_bytes=1 << 20)
    message = str(caught.value)
    assert message.startswith("page 1: the answer from http://sim.test/api/users")
    assert "larger than the 1 MiB cap once decoded" in message
    assert "--max-response-bytes" in message
    assert api.stats()["requests"] == 1


def test_an_oversized_plain_body_is_stopped_too() -> None:
    """Without compression the same cap applies."""
    api = sim(customers=12, body_padding_bytes=300_000)
    with pytest.raises(FatalAPIError, match=r"larger than the 200,000 bytes cap"):
        api.fetch(max_response_bytes=200_000)


def test_a_body_under_the_cap_is_read_whole() -> None:
    """Padding below the cap is just whitespace: the sync completes."""
    api = sim(customers=12, body_padding_bytes=10_000, gzip_bodies=True)
    records, _ = api.fetch(max_response_bytes=1 << 20)
    assert len(records) == 12


def test_a_trickling_body_fails_like_a_timeout_and_is_retried() -> None:
    """A body sent over 120 s breaks the 60 s request deadline; the retry gets it whole."""
    api = sim(customers=12, slow_body_seconds=120.0, hostile_attempts=1)
    records, stats = api.fetch()
    assert len(records) == 12
    assert stats.retries == {"deadline": 1}
    (timeout,) = api.named("request_timeout")
    assert "60 s request deadline" in timeout["error"]


def test_headers_one_line_at_a_time_fail_like_a_timeout_under_the_request_deadline() -> None:
    """On loopback, header lines 4 s apart (each within the 5 s read timeout) never end
    an attempt by themselves; the 0.2 s request deadline does, and the retry gets the page.
    (The only real waiting in this test: the 0.2 s deadline.)"""
    with loopback(customers=12, slow_headers_seconds=40.0, hostile_attempts=1) as server:
        client = loopback_client(server, request_deadline=0.2, read_timeout=5.0)
        started = time.monotonic()
        records = client.fetch_all_customers()
        spent = time.monotonic() - started
        served = idle_snapshot(server)
    assert len(records) == 12
    assert client.stats.retries == {"deadline": 1}
    assert spent < 2.0  # the deadline, not the 40 s of headers nor a read timeout
    assert served["requests"] == 2  # the one page, twice


def test_a_body_that_always_trickles_ends_in_one_clear_line() -> None:
    """Every attempt too slow: the run stops after its retries, naming the deadline."""
    api = sim(customers=12, slow_body_seconds=120.0)
    with pytest.raises(RetryBudgetExhausted, match=r"^page 1: giving up after 4 attempts "
                       r"\(deadline x4\)$"):
        api.fetch()
    assert len(api.named("request_timeout")) == 3  # the fourth is the error itself


@pytest.mark.parametrize(
    ("times", "limit"),
    [
        ([0.01] * 4, None),  # too few answers timed yet
        ([0.01] * 5, 2.0),  # fast answers: the floor
        ([0.5] * 40, 5.0),  # 10 x the 95th percentile
        ([5.0] * 40, 30.0),  # never beyond the read timeout
        ([0.01] * 95 + [1.0] * 5, 2.0),  # a few slow ones do not move the 95th percentile
    ],
)
def test_stall_limit(times: list[float], limit: float | None) -> None:
    """An answer counts as stalled after 10x the usual time, within [2 s, read_timeout]."""
    assert stall_limit(times, 30.0) == (None if limit is None else pytest.approx(limit))


def _hanging_api(hang: set[int]) -> Callable[[httpx.Request], Awaitable[httpx.Response]]:
    """200 people, 6 a page; the first request for each page in ``hang`` never answers."""
    served = FakeAPI(people(200))
    hung: set[int] = set()

    async def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        if page in hang and page not in hung:
            hung.add(page)
            await asyncio.Event().wait()  # accepted, and nothing ever sent
        return served(request)

    return handler


def test_a_stalled_answer_is_given_up_early_and_retried() -> None:
    """Once answers are timed, one that hangs is cut at the 2 s stall limit (not the 30 s
    read timeout), logged, and retried; on virtual time, so nothing really waits."""
    loop = VirtualTimeLoop()
    events: list[Event] = []
    client = make_client(
        "http://sim.test/api", transport=httpx.MockTransport(_hanging_api({30})),
        sleep=asyncio.sleep, clock=loop.time, hook=events.append, per_page=6,
        concurrency=1, read_timeout=30.0, jitter=0.0,
    )
    assert len(loop.run(client.afetch_all_customers())) == 200
    assert client.stats.retries == {"stalled": 1}
    assert client.stats.hedged == 0  # one connection: no room for a twin
    (timeout,) = [e for e in events if e.name == "request_timeout"]
    assert timeout.at == pytest.approx(fetcher.STALL_FLOOR)
    assert loop.time() == pytest.approx(fetcher.STALL_FLOOR)  # the wait for it counted


def test_a_slow_answer_gets_a_twin_and_the_first_answer_wins() -> None:
    """A request still unanswered after the hedge delay is sent again; the twin's answer
    is used and the hung one cancelled: the stall costs 0.5 s and no retry. Page 2 went
    out before any answer was timed: it gets its twin once the delay is known."""
    loop = VirtualTimeLoop()
    events: list[Event] = []
    client = make_client(
        "http://sim.test/api", transport=httpx.MockTransport(_hanging_api({2, 30})),
        sleep=asyncio.sleep, clock=loop.time, hook=events.append, per_page=6,
        concurrency=4, read_timeout=30.0,
    )
    assert len(loop.run(client.afetch_all_customers())) == 200
    assert client.stats.hedged == 2
    assert client.stats.retries == {}
    assert client.stats.requests == 34 + 2
    hedged = [e for e in events if e.name == "request_hedged"]
    assert [(e.fields["page"], e.fields["after"]) for e in hedged] == [
        (2, fetcher.HEDGE_FLOOR), (30, fetcher.HEDGE_FLOOR)
    ]
    assert loop.time() == pytest.approx(fetcher.HEDGE_FLOOR)  # both hung at the start


@pytest.mark.parametrize(
    ("times", "delay"),
    [
        ([0.01] * 4, None),  # too few answers timed yet
        ([0.01] * 5, 0.5),  # fast answers: the floor
        ([0.5] * 40, 1.5),  # 3 x the 95th percentile
        ([20.0] * 40, 30.0),  # never beyond the read timeout
    ],
)
def test_hedge_delay(times: list[float], delay: float | None) -> None:
    """A twin goes out after 3x the usual answer time, within [0.5 s, read_timeout]."""
    assert hedge_delay(times, 30.0) == (None if delay is None else pytest.approx(delay))


def test_a_page_failing_alone_waits_the_base_while_the_server_answers_others() -> None:
    """Three 503s on page 7 while every other page is fine: 1, 1, 1 s, not 1, 2, 4."""
    calls: Counter[int] = Counter()

    def tweak(page: int, body: dict[str, Any]) -> httpx.Response | None:
        calls[page] += 1
        return httpx.Response(503) if page == 7 and calls[page] <= 3 else None

    client, fake, _ = FakeAPI(people(60), tweak=tweak).client(concurrency=1)
    assert len(client.fetch_all_customers()) == 60
    assert client.stats.retries == {"http_503": 3}
    assert fake.sleeps == [1.0, 1.0, 1.0]


# -- messages ----------------------------------------------------------------------------------
def chained(outer: Exception, inner: BaseException) -> Exception:
    outer.__cause__ = inner
    return outer


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (chained(httpx.ConnectError("x"), socket.gaierror(-2, "Name or service not known")),
         "DNS lookup failed"),
        (chained(httpx.ConnectError("x"), ConnectionRefusedError(111, "refused")),
         "connection refused"),
        (chained(httpx.ConnectError("x"), ssl.SSLError(1, "handshake failure")),
         "TLS handshake failed"),
        (httpx.ConnectTimeout("x"), "timed out"),
        (httpx.ConnectError("[Errno -3] Temporary failure in name resolution"),
         "DNS lookup failed"),
        (httpx.ConnectError("something else"), "connection failed"),
    ],
)
def test_connect_failures_name_their_kind(error: httpx.TransportError, kind: str) -> None:
    """DNS, refused, TLS and timeouts are told apart from the exception chain."""
    assert connect_failure_kind(error) == kind


def test_a_dns_failure_names_host_port_and_kind_once_retries_are_spent() -> None:
    """The final line names the host, the port and that DNS failed, then the attempts."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise chained(httpx.ConnectError("boom"), socket.gaierror(-2, "Name or service"))

    fake = FakeTime()
    client = make_client(
        "https://api.nowhere.test/v1?api_key=hunter2",
        transport=httpx.MockTransport(handler),
        sleep=fake.sleep,
        clock=fake.monotonic,
    )
    with pytest.raises(RetryBudgetExhausted) as caught:
        client.fetch_all_customers()
    assert str(caught.value) == (
        "page 1: cannot connect to api.nowhere.test:443: DNS lookup failed; "
        "giving up after 4 attempts (connect_error x4)"
    )


def test_a_404_on_page_1_says_to_check_the_base_path_with_the_masked_url() -> None:
    """404 on page 1: check the base path of --api-url, showing the URL with secrets masked."""
    fake = FakeAPI(people(6), tweak=lambda page, body: httpx.Response(404))
    client = make_client(
        "http://sim.test/wrong?token=s3cret", transport=httpx.MockTransport(fake)
    )
    with pytest.raises(FatalAPIError) as caught:
        client.fetch_all_customers()
    message = str(caught.value)
    assert "check the base path of --api-url: requested http://sim.test/wrong/users?" in message
    assert "s3cret" not in message


# -- quieter logs ------------------------------------------------------------------------------
def test_retries_log_at_debug_and_a_summary_at_most_every_few_seconds() -> None:
    """3,000 customers at 20% faults: each retry is debug; warnings are a few summaries."""
    api = sim(customers=3000, fault_rate=0.2, latency_ms=20.0)
    lines: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record)

    logger = logging.getLogger("test.quiet")
    logger.handlers[:] = [Keep()]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    client = api.client(per_page=6)
    records = client.fetch_all_customers()
    hook = log_hook(logger)
    for event in api.events:
        hook(event)
    assert len(records) == 3000
    retries = sum(client.stats.retries.values())
    assert retries > 50
    warnings = [r for r in lines if r.levelno >= logging.WARNING]
    assert {r.getMessage() for r in warnings} <= {"retry_summary"}
    assert len(warnings) <= api.time.now / 5.0 + 1
    summarized = sum(int(r.fields["retries"]) for r in warnings)  # type: ignore[attr-defined]
    assert 0 < summarized <= retries


def test_drift_suspicions_and_rechecks_log_at_warning() -> None:
    """A suspicion and its re-check are warnings, with their reasons."""
    logger = logging.getLogger("test.drift")
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger.handlers[:] = [Keep()]
    logger.setLevel(logging.WARNING)
    logger.propagate = False
    hook = log_hook(logger)
    for name in ("drift_suspected", "recheck_started", "recheck_passed", "retry_summary"):
        hook(Event(name, 0.0, {"detail": "x"}))
    hook(Event("retry", 0.0, {"page": 1}))
    assert [r.getMessage() for r in records] == [
        "drift_suspected", "recheck_started", "recheck_passed", "retry_summary",
    ]




# -- through the pipeline's filter wrapper -----------------------------------------------------
def test_the_filter_wrapper_passes_the_optional_paging_features_on() -> None:
    """The pipeline wraps every paginator (updated_since, server time): inflated totals,
    the page-size fallback and the re-walk plan still work through it, filtered too."""
    from datetime import UTC, datetime

    from customer_sync.incremental import FilteredPaginator, ServerTime
    from customer_sync.rules import BusinessRules
    from customer_sync.source.pagination import PageNumberPaginator, PageSize, ReceivedPage

    watch = ServerTime("updated_at", None, datetime(2026, 1, 1, tzinfo=UTC), BusinessRules())
    inner = PageNumberPaginator(per_page=PageSize("auto", 100), max_pages=1000)
    wrapped = FilteredPaginator(inner, param="updated_since", since="2026-01-01", watch=watch)
    retry = wrapped.refused(1, 400)
    assert retry is not None
    assert dict(retry.params) == {"page": "1", "updated_since": "2026-01-01"}
    planned = wrapped.expect(3)
    assert [(r.number, r.params.get("updated_since")) for r in planned] == [
        (2, "2026-01-01"), (3, "2026-01-01")
    ]
    assert not wrapped.finished
    body = {"page": 1, "total": 0, "total_pages": 99_999, "data": []}
    wrapped.advance(ReceivedPage(wrapped.first(), body, [], 0, 99_999))
    assert wrapped.finished
    assert wrapped.stopped_early is not None
