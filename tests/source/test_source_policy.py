"""The client's rules as pure functions: retry policy, envelope, paging, drift, pacing, cache."""

from __future__ import annotations

import asyncio
import random
import re
from email.utils import formatdate
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from customer_sync.errors import FatalAPIError, RetriableAPIError
from customer_sync.source import (
    AdaptiveRateLimiter,
    ClientSettings,
    FileETagCache,
    PageNumberPaginator,
    PageRequest,
    ReceivedPage,
    compute_backoff,
    parse_retry_after,
)
from customer_sync.source.drift import Decision, PassLedger, verdict
from customer_sync.source.envelope import decode_body, read_envelope
from customer_sync.source.retry import status_cause, transport_cause

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_773_500_000.0


# -- Retry-After ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("0", 0.0),
        ("7", 7.0),
        (" 12 ", 12.0),
        ("120", 120.0),
        (formatdate(NOW + 30, usegmt=True), 30.0),  # IMF-fixdate
        ("Sunday, 06-Nov-94 08:49:37 GMT", 0.0),  # RFC 850, in the past
        ("Sun Nov  6 08:49:37 1994", 0.0),  # asctime, in the past
        (formatdate(NOW - 5, usegmt=True), 0.0),  # a date in the past means now
        ("1.5", 1.5),
        ("2.0", 2.0),
        ("0.25", 0.25),
        ("1.", None),
        (".5", None),
        ("1e3", None),
        ("-3", None),
        ("soon", None),
        ("", None),
        ("٣", None),  # a non-ASCII digit
        ("Mon, 99 Foo 2026 00:00:00 GMT", None),
        (None, None),
    ],
)
def test_retry_after_parsing(header: str | None, expected: float | None) -> None:
    """Retry-After gives seconds (delta or HTTP-date) or None for anything unusable."""
    assert parse_retry_after(header, now=NOW) == expected


@given(st.text(max_size=40))
def test_retry_after_never_raises(header: str) -> None:
    """No header value, however odd, makes the parser raise or return a negative wait."""
    wait = parse_retry_after(header, now=NOW)
    assert wait is None or wait >= 0


# -- backoff --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("attempt", "base", "factor", "maximum", "expected"),
    [
        (1, 1.0, 2.0, 30.0, 1.0),
        (2, 1.0, 2.0, 30.0, 2.0),
        (3, 1.0, 2.0, 30.0, 4.0),
        (6, 1.0, 2.0, 30.0, 30.0),
        (3, 0.5, 3.0, 30.0, 4.5),
        (1, 0.0, 2.0, 30.0, 0.0),
        (5000, 1.0, 2.0, 30.0, 30.0),  # no overflow
    ],
)
def test_backoff_without_jitter(
    attempt: int, base: float, factor: float, maximum: float, expected: float
) -> None:
    """Backoff is base * factor ** (attempt - 1), capped."""
    rng = random.Random(0)
    got = compute_backoff(attempt, base=base, factor=factor, maximum=maximum, jitter=0.0, rng=rng)
    assert got == expected


@given(st.integers(1, 12), st.floats(0, 1), st.integers(0, 2**32))
def test_backoff_jitter_stays_within_its_fraction(attempt: int, jitter: float, seed: int) -> None:
    """With jitter j the wait lies in [nominal, nominal * (1 + j)], and never above the cap."""
    nominal = min(30.0, 2.0 ** (attempt - 1))
    wait = compute_backoff(
        attempt, base=1.0, factor=2.0, maximum=30.0, jitter=jitter, rng=random.Random(seed)
    )
    assert nominal <= wait <= min(30.0, nominal * (1 + jitter)) + 1e-9


# -- what is retried ------------------------------------------------------------------------
REQUEST = httpx.Request("GET", "http://x.test/")


@pytest.mark.parametrize(
    ("exc", "cause"),
    [
        (httpx.ConnectError("refused", request=REQUEST), "connect_error"),
        (httpx.ConnectTimeout("slow", request=REQUEST), "connect_timeout"),
        (httpx.ReadTimeout("stalled", request=REQUEST), "read_timeout"),
        (httpx.PoolTimeout("busy", request=REQUEST), "pool_timeout"),
        (httpx.WriteTimeout("slow", request=REQUEST), "write_timeout"),
        (httpx.ReadError("reset by peer", request=REQUEST), "reset"),
        (httpx.WriteError("broken pipe", request=REQUEST), "reset"),
        (httpx.RemoteProtocolError("incomplete body", request=REQUEST), "reset"),
        (httpx.LocalProtocolError("our bug", request=REQUEST), None),
        (httpx.UnsupportedProtocol("gopher", request=REQUEST), None),
        (httpx.ProxyError("proxy", request=REQUEST), None),
    ],
)
def test_transport_errors_retried_or_not(exc: httpx.TransportError, cause: str | None) -> None:
    """Connect errors, timeouts and resets are retried; our own mistakes are not."""
    assert transport_cause(exc) == cause


@pytest.mark.parametrize(
    ("status", "cause"), [(429, "rate_limited"), (503, "http_503"), (408, "http_408")]
)
def test_status_causes(status: int, cause: str) -> None:
    """Retried statuses get stable cause labels."""
    assert status_cause(status) == cause


# -- envelope -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("content", "cause"),
    [
        (b"", "invalid_json"),
        (b'{"data": [1,}', "invalid_json"),
        (b"\x1f\x8b\x08\x00", "invalid_json"),
        (b"<html></html>", "invalid_json"),
        (b"[1, 2]", "invalid_body"),
        (b'"text"', "invalid_body"),
        (b"{}", "invalid_body"),
        (b'{"data": {"id": 1}}', "invalid_body"),
        (b'{"data": null}', "invalid_body"),
    ],
)
def test_bad_bodies_are_retriable(content: bytes, cause: str) -> None:
    """A body that is not JSON, not an object, or has no data list is a retriable error."""
    with pytest.raises(RetriableAPIError) as caught:
        read_envelope(decode_body(content, page=4), page=4)
    assert caught.value.cause == cause
    assert caught.value.page == 4
    assert str(caught.value).startswith("page 4: ")


@pytest.mark.parametrize(
    ("body", "total", "total_pages"),
    [
        ({"data": [], "total": 12, "total_pages": 2}, 12, 2),
        ({"data": []}, None, None),
        ({"data": [], "total": "12", "total_pages": -1}, None, None),
        ({"data": [], "total": True, "total_pages": 2.0}, None, None),
    ],
)
def test_envelope_sizes_are_non_negative_ints_or_missing(
    body: dict[str, Any], total: int | None, total_pages: int | None
) -> None:
    """total and total_pages count only as non-negative integers."""
    envelope = read_envelope(body, page=1)
    assert (envelope.total, envelope.total_pages) == (total, total_pages)


# -- page-number paging ---------------------------------------------------------------------
def received(
    number: int,
    records: list[Any],
    total_pages: int | None,
    echoed: Any = "same",
) -> ReceivedPage:
    body: dict[str, Any] = {"data": records}
    if echoed is not None:
        body["page"] = number if echoed == "same" else echoed
    return ReceivedPage(PageRequest(number), body, records, None, total_pages)


def numbers(requests: list[PageRequest]) -> list[int]:
    return [r.number for r in requests]


def test_page_one_plans_every_other_page() -> None:
    """Page 1 with total_pages=4 plans pages 2, 3 and 4 at once."""
    paginator = PageNumberPaginator(per_page=6, max_pages=100)
    first = paginator.first()
    assert (first.number, dict(first.params)) == (1, {"page": "1", "per_page": "6"})
    assert numbers(paginator.advance(received(1, [1], 4))) == [2, 3, 4]
    assert numbers(paginator.advance(received(3, [1], 4))) == []


def test_a_page_reporting_more_pages_extends_the_plan() -> None:
    """A later page reporting a larger total_pages (rows inserted) adds the new pages."""
    paginator = PageNumberPaginator(per_page=6, max_pages=100)
    paginator.advance(received(1, [1], 3))
    assert numbers(paginator.advance(received(2, [1], 4))) == [4]


def test_without_total_pages_paging_is_sequential_until_empty() -> None:
    """Without total_pages each non-empty page plans the next; an empty page ends it."""
    paginator = PageNumberPaginator(per_page=6, max_pages=100)
    assert numbers(paginator.advance(received(1, [1], None))) == [2]
    assert numbers(paginator.advance(received(2, [1], None))) == [3]
    assert numbers(paginator.advance(received(3, [], None))) == []


@pytest.mark.parametrize("echoed", [None, 2, "2", " 2 "])
def test_echoed_page_accepted(echoed: Any) -> None:
    """The echoed page may be missing, an int, or a digit string equal to the request."""
    PageNumberPaginator(per_page=6, max_pages=10).check(received(2, [], 2, echoed=echoed))


@pytest.mark.parametrize("echoed", [1, "1", "two", True, 2.5])
def test_echoed_page_mismatch_refused(echoed: Any) -> None:
    """An echoed page other than the one requested is a FatalAPIError."""
    with pytest.raises(FatalAPIError, match="page 2: the API answered for page"):
        PageNumberPaginator(per_page=6, max_pages=10).check(received(2, [], 2, echoed=echoed))


# -- drift ----------------------------------------------------------------------------------
def ledger(pages: dict[int, list[Any]], totals: dict[int, int] | None = None) -> PassLedger:
    """A pass over ``pages``; every page reports total=sum of records unless overridden."""
    result = PassLedger()
    count = sum(len(records) for records in pages.values())
    for number, records in pages.items():
        total = (totals or {}).get(number, count)
        result.add(number, records, total, -(-total // 3))
    return result


def ids(*values: int) -> list[dict[str, int]]:
    return [{"id": v} for v in values]


CLEAN = {1: ids(1, 2, 3), 2: ids(4, 5, 6), 3: ids(7)}


@pytest.mark.parametrize(
    ("pages", "totals", "kinds"),
    [
        (CLEAN, None, []),
        (CLEAN, {1: 8, 2: 8, 3: 8}, ["count_mismatch"]),
        (CLEAN, {1: 7, 2: 7, 3: 6}, ["totals_changed"]),
        ({1: ids(1, 2, 3), 2: ids(3, 4, 5), 3: ids(6, 7)}, None, ["shifted"]),
        ({1: ids(1, 2, 3), 2: ids(5, 6, 7), 3: ids(7, 8)}, {1: 8, 2: 8, 3: 8}, ["shifted"]),
        ({1: ids(1, 2, 3), 3: ids(3, 4)}, {1: 5, 3: 5}, []),  # pages not adjacent
    ],
)
def test_drift_signals(
    pages: dict[int, list[Any]], totals: dict[int, int] | None, kinds: list[str]
) -> None:
    """A pass shows totals changes, count mismatches and records shifted across a boundary."""
    assert [s.kind for s in ledger(pages, totals).signals()] == kinds


def test_identical_pages_are_reported_as_a_loop() -> None:
    """Adding a page whose records equal an earlier page's returns that page."""
    result = PassLedger()
    assert result.add(1, ids(1, 2), 4, 2) is None
    assert result.add(2, ids(1, 2), 4, 2) == 1
    assert result.add(3, [], 4, 2) is None
    assert result.add(4, ids(9), 4, 2) is None
    assert result.add(5, ids(9), 4, 2) is None  # one record may repeat: a duplicate


SHIFTED = {1: ids(1, 2, 3), 2: ids(3, 4, 5), 3: ids(6, 7)}


@pytest.mark.parametrize(
    ("current", "current_totals", "previous", "decision"),
    [
        (CLEAN, None, None, Decision.ACCEPT),
        (SHIFTED, None, None, Decision.RECHECK),  # suspicion: look again
        (SHIFTED, None, SHIFTED, Decision.ACCEPT),  # the data set's own duplicate
        (CLEAN, None, SHIFTED, Decision.ACCEPT),  # changed, but this pass is clean itself
        (CLEAN, None, CLEAN, Decision.ACCEPT),
        (CLEAN, {1: 8, 2: 8, 3: 8}, None, Decision.RECHECK),
        (CLEAN, {1: 8, 2: 8, 3: 8}, "same", Decision.STABLE_BUT_SHORT),
        (CLEAN, {1: 7, 2: 7, 3: 8}, "same", Decision.RECHECK),
    ],
)
def test_verdict_after_a_pass(
    current: dict[int, list[Any]],
    current_totals: dict[int, int] | None,
    previous: dict[int, list[Any]] | str | None,
    decision: Decision,
) -> None:
    """A pass is accepted when clean, or when it agrees with the pass before it."""
    before = None
    if previous == "same":
        before = ledger(current, current_totals)
    elif isinstance(previous, dict):
        before = ledger(previous)
    assert verdict(ledger(current, current_totals), before) is decision


# -- pacing ---------------------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 9))
        self.now += seconds


def test_token_bucket_paces_after_its_burst() -> None:
    """rate=2, burst=3: three requests at once, then one every half second."""
    clock = Clock()
    limiter = AdaptiveRateLimiter(rate=2.0, burst=3, clock=clock, sleep=clock.sleep)

    async def five() -> None:
        for _ in range(5):
            await limiter.acquire()

    asyncio.run(five())
    assert clock.sleeps == [0.5, 0.5]


def test_unlimited_by_default() -> None:
    """rate=None never waits."""
    clock = Clock()
    limiter = AdaptiveRateLimiter(rate=None, burst=1, clock=clock, sleep=clock.sleep)

    async def many() -> None:
        for _ in range(50):
            await limiter.acquire()

    asyncio.run(many())
    assert clock.sleeps == []


def headers(remaining: int, limit: int = 10, reset: int = 1) -> dict[str, str]:
    return {
        "x-ratelimit-limit": str(limit),
        "x-ratelimit-remaining": str(remaining),
        "x-ratelimit-reset": str(reset),
    }


def test_limiter_measures_the_server_refill_rate() -> None:
    """Remaining counts over time reveal the server's refill rate (here 20 per second)."""
    clock = Clock()
    limiter = AdaptiveRateLimiter(rate=None, burst=1, clock=clock, sleep=clock.sleep)
    tokens, last = 3.0, 0.0

    async def drive() -> None:
        nonlocal tokens, last
        for _ in range(60):  # a request every 40 ms at most (25/s) against a 20/s server
            ticket = await limiter.acquire()
            tokens, last = min(10.0, tokens + 20 * (clock.now - last)), clock.now
            if tokens >= 1:
                tokens -= 1
                limiter.observe(ticket, 200, headers(int(tokens)))
            else:
                limiter.observe(ticket, 429, headers(0))
            clock.now += 0.04

    asyncio.run(drive())
    assert limiter.adapting
    assert limiter.rate is not None
    assert 20 * 0.9 <= limiter.rate <= 20 * 1.05


def test_limiter_uses_limit_and_reset_as_a_floor_until_measured() -> None:
    """Before any measurement, Limit/Reset give a floor: 9 tokens within 3 s is 3/s."""
    clock = Clock()
    limiter = AdaptiveRateLimiter(rate=None, burst=1, clock=clock, sleep=clock.sleep)

    async def one() -> None:
        limiter.observe(await limiter.acquire(), 200, headers(0, limit=10, reset=3))

    asyncio.run(one())
    assert limiter.rate == pytest.approx(3.0 * 0.97)


def test_limiter_recovers_when_the_server_bucket_is_full_again() -> None:
    """After adapting, an answer showing a full server bucket restores the configured rate."""
    clock = Clock()
    limiter = AdaptiveRateLimiter(rate=None, burst=1, clock=clock, sleep=clock.sleep)
    changes: list[str] = []
    limiter._on_change = lambda name, rate: changes.append(name)

    async def drive() -> None:
        limiter.observe(await limiter.acquire(), 429, headers(0, reset=2))
        clock.now += 5
        limiter.observe(await limiter.acquire(), 200, headers(9))

    asyncio.run(drive())
    assert changes == ["rate_limit_adapting", "rate_limit_recovered"]
    assert limiter.rate is None


# -- cache ----------------------------------------------------------------------------------
def test_cache_round_trip_and_bad_entries(tmp_path: Path) -> None:
    """A stored page comes back; a corrupt or foreign entry reads as a miss."""
    cache = FileETagCache(tmp_path / "cache")
    url = "http://x.test/api/users?page=1&per_page=6"
    assert cache.get(url) is None
    cache.put(url, '"abc"', {"data": [1]})
    entry = cache.get(url)
    assert entry is not None
    assert (entry.etag, entry.body) == ('"abc"', {"data": [1]})
    assert cache.get(url.replace("page=1", "page=2")) is None
    (path,) = (tmp_path / "cache").glob("*.json")
    assert path.stat().st_mode & 0o077 == 0
    path.write_text("{not json")
    assert cache.get(url) is None


# -- settings and their documentation -------------------------------------------------------
def test_docs_document_every_setting_with_its_default() -> None:
    """docs/client.md has a row for every ClientSettings field, with its default."""
    text = (ROOT / "docs" / "client.md").read_text()
    rows = dict(re.findall(r"^\| `(\w+)` \| `([^`]*)` \|", text, flags=re.MULTILINE))
    for name, field in ClientSettings.model_fields.items():
        assert name in rows, name
        default = field.default
        shown = "None" if default is None else repr(default).strip("'")
        if name == "user_agent":
            shown = "customer-sync-pipeline/<version>"
        assert rows[name] == shown, name
