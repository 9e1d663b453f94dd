"""Rate control without rate-limit headers (CUBIC, no ratchet), and the header forms real
APIs send (X-RateLimit, the IETF draft's fields, its structured fields)."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest

from customer_sync.simulated_api import SimulatorConfig
from customer_sync.source.cubic import BETA, MIN_RATE, CubicRate
from customer_sync.source.rate_headers import RateLimitHeaders, parse_rate_limit_headers
from customer_sync.source.ratelimit import AdaptiveRateLimiter
from tests.chaos_support import FakeTime
from tests.test_api_client import NOW, FakeAPI, Sim, people


@dataclass
class Clock:
    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def limiter(clock: Clock, rate: float | None = None) -> AdaptiveRateLimiter:
    return AdaptiveRateLimiter(
        rate=rate, burst=1, clock=clock, sleep=clock.sleep, wall_clock=lambda: 1_773_500_000.0
    )


def sim(**overrides: Any) -> Sim:
    """The simulator on fake time: its clock and sleeps move the client's clock too."""
    fake = FakeTime()
    options: dict[str, Any] = {
        "fault_rate": 0.0,
        "now": NOW,
        "clock": fake.monotonic,
        "wall_clock": fake.wall,
        "sleep": fake.server_sleep,
    }
    options.update(overrides)
    return Sim(SimulatorConfig(**options), fake)


# -- the curve ---------------------------------------------------------------------------------
def test_cubic_cuts_to_beta_and_grows_back_with_time() -> None:
    """A cut leaves 0.7 of the rate; the curve is back at w_max after K seconds, then probes."""
    curve = CubicRate(w_max=40.0, cut_at=0.0)
    curve.cut(40.0, now=10.0)
    assert curve.rate(10.0) == pytest.approx(40.0 * BETA)
    assert curve.rate(10.0 + curve.k) == pytest.approx(40.0)
    assert curve.rate(10.0 + curve.k / 2) > 40.0 * BETA
    assert curve.rate(10.0 + 2 * curve.k) > 40.0
    assert curve.rate(1000.0) == pytest.approx(80.0)  # capped at twice w_max


def test_cubic_holds_its_low_point_through_a_retry_after() -> None:
    """A cut with a hold stays at its low point that long before growing."""
    curve = CubicRate(w_max=10.0, cut_at=0.0)
    curve.cut(10.0, now=0.0, hold=2.0)
    assert curve.rate(1.9) == pytest.approx(7.0)
    assert curve.rate(3.0) > 7.0


def test_cubic_never_goes_below_the_floor_and_resumes_at_the_best_rate() -> None:
    """Cuts stop at MIN_RATE; resume_at_best puts the curve back at w_max at once."""
    curve = CubicRate(w_max=1.0, cut_at=0.0)
    for n in range(20):
        curve.cut(curve.rate(float(n)), now=float(n))
    assert curve.rate(20.0) >= MIN_RATE
    curve = CubicRate(w_max=30.0, cut_at=0.0)
    curve.cut(30.0, now=5.0)
    curve.resume_at_best(5.1)
    assert curve.rate(5.1) == pytest.approx(30.0)


# -- the limiter -------------------------------------------------------------------------------
def test_a_429_without_headers_cuts_once_per_round_trip() -> None:
    """429s for requests sent before the cut are the same congestion: one cut, not many."""
    clock = Clock()
    lim = limiter(clock)

    async def drive() -> list[float | None]:
        tickets = [await lim.acquire() for _ in range(8)]  # all sent at t=0, unlimited
        clock.now = 0.5
        rates = []
        for ticket in tickets:
            lim.observe(ticket, 429, {})
            rates.append(lim.rate)
        return rates

    rates = asyncio.run(drive())
    assert rates[0] is not None
    assert set(rates) == {rates[0]}  # the other seven 429s changed nothing
    assert rates[0] == pytest.approx(8 / 0.5 * BETA)


def test_successes_and_holding_back_never_lower_the_rate() -> None:
    """After a cut only time moves the rate: slow, sparse successes do not pull it down."""
    clock = Clock()
    lim = limiter(clock)

    async def drive() -> list[float]:
        for _ in range(10):
            lim.observe(await lim.acquire(), 200, {})
        lim.observe(await lim.acquire(), 429, {})
        seen = []
        for _ in range(10):  # the client holds back: one request every 3 s
            clock.now += 3.0
            lim.observe(await lim.acquire(), 200, {})
            assert lim.rate is not None
            seen.append(lim.rate)
        return seen

    seen = asyncio.run(drive())
    assert seen == sorted(seen)  # never down
    assert seen[-1] > 1.0 / 3.0 * 10  # far above the 0.33 req/s it was asked for


def test_a_429_while_the_client_holds_back_teaches_nothing() -> None:
    """One lone request refused: no sending rate to learn from, so no rate is set."""
    clock = Clock()
    lim = limiter(clock)

    async def drive() -> None:
        lim.observe(await lim.acquire(), 429, {"retry-after": "1"})

    asyncio.run(drive())
    assert lim.rate is None


def test_a_new_pass_starts_at_the_best_rate_learned() -> None:
    """new_pass() lifts a rate left low by a recent cut back to the rate last refused."""
    clock = Clock()
    lim = limiter(clock)

    async def drive() -> None:
        tickets = [await lim.acquire() for _ in range(10)]
        clock.now = 0.5
        lim.observe(tickets[0], 429, {})
        clock.now = 0.6
        lim.observe(await lim.acquire(), 429, {})

    asyncio.run(drive())
    low = lim.rate
    assert low is not None
    assert lim.best_rate is not None
    assert low < lim.best_rate
    lim.new_pass()
    assert lim.rate == pytest.approx(lim.best_rate)


def test_a_429_below_the_rate_the_server_just_served_does_not_cut() -> None:
    """After a cut, a lone 429 while the client sends far below what the server served in
    the last seconds is not the rate's doing (a fault, a quota): no second cut. One at
    the rate the server served still cuts."""
    clock = Clock()
    lim = limiter(clock)

    async def send(n: int, every: float, status: int = 200) -> None:
        for _ in range(n):
            ticket = await lim.acquire()
            clock.now += every
            lim.observe(ticket, status, {})

    async def drive() -> tuple[float, float, float]:
        await send(20, 0.05)  # 20 req/s, all served
        await send(2, 0.0, 429)  # the first cut
        cut = lim.best_rate
        await send(40, 0.05)  # the server serves 20 req/s for 2 s
        await send(3, 0.3)  # the client slows to ~3 req/s (pages waiting out backoffs)
        await send(1, 0.0, 429)  # a lone 429 far below the 20 req/s just served
        after_lone = lim.best_rate
        await send(20, 0.05)
        await send(1, 0.0, 429)  # a 429 at the rate the server serves: congestion
        assert cut is not None
        assert after_lone is not None
        assert lim.best_rate is not None
        return cut, after_lone, lim.best_rate

    cut, after_lone, last = asyncio.run(drive())
    assert after_lone == cut
    assert last != cut


def test_a_429_whose_headers_show_room_does_not_cut() -> None:
    """A 429 while the headers say the server's bucket is far from empty is no congestion."""
    clock = Clock()
    lim = limiter(clock)

    async def drive() -> None:
        for _ in range(5):
            lim.observe(await lim.acquire(), 429, {"x-ratelimit-limit": "100",
                                                    "x-ratelimit-remaining": "90"})

    asyncio.run(drive())
    assert lim.best_rate is None


# -- headers -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"x-ratelimit-limit": "10", "x-ratelimit-remaining": "3", "x-ratelimit-reset": "2"},
         (10, 3, 2.0)),
        ({"ratelimit-limit": "10", "ratelimit-remaining": "3", "ratelimit-reset": "2"},
         (10, 3, 2.0)),
        ({"ratelimit-limit": "10, 10;w=1, 1000;w=3600", "ratelimit-remaining": "4",
          "ratelimit-reset": "1"}, (10, 4, 1.0)),
        ({"ratelimit": '"default";r=50;t=30', "ratelimit-policy": '"default";q=100;w=60'},
         (100, 50, 30.0)),
        ({"ratelimit": "limit=10, remaining=5, reset=3"}, (10, 5, 3.0)),
        ({"x-ratelimit-limit": "-1", "x-ratelimit-remaining": "x", "x-ratelimit-reset": "1"},
         (None, None, None)),
        ({"x-ratelimit-limit": "10", "x-ratelimit-remaining": "3",
          "x-ratelimit-reset": "1773500000"}, (10, 3, None)),  # an epoch time: absurd
        ({"ratelimit": '"p";r=-2;t=soon'}, (None, None, None)),
        ({}, (None, None, None)),
    ],
)
def test_rate_limit_header_forms(
    headers: dict[str, str], expected: tuple[int | None, int | None, float | None]
) -> None:
    """X-RateLimit-*, the draft's RateLimit-* and structured fields; garbage is missing."""
    assert parse_rate_limit_headers(headers) == RateLimitHeaders(*expected)


@pytest.mark.parametrize("style", ["x", "ietf", "structured"])
def test_adapts_to_each_header_style_with_few_429s(style: str) -> None:
    """The draft's headers teach the limiter as well as X-RateLimit-* do."""
    api = sim(customers=240, rate_limit=5.0, burst=3, rate_limit_headers=style)
    records, stats = api.fetch(per_page=6, concurrency=2)
    assert len(records) == 240
    assert stats.rate_limited <= 3
    assert api.time.now <= 40 / 5.0 * 1.25


# -- header-less, end to end -------------------------------------------------------------------
def test_header_less_limiter_is_learned_and_not_ratcheted() -> None:
    """429s with only Retry-After (mixed forms): few 429s, and the rate never ratchets down.

    Fake time runs every sleep one after the other (a page's 1 s Retry-After passes while
    nobody else sends), so wall time here is pessimistic: the bench measures real time.
    """
    api = sim(customers=2000, rate_limit=20.0, burst=5, rate_limit_headers="none")
    records, stats = api.fetch(per_page=10, concurrency=4)
    assert len(records) == 2000
    assert stats.rate_limited <= 0.1 * stats.requests
    assert api.time.now <= 200 / 20.0 * 1.6
    cuts = [e["rate"] for e in api.named("rate_limit_cut")]
    assert cuts
    assert min(cuts) >= 0.9 * cuts[0]
    assert 20.0 * 0.7 <= cuts[-1] <= 20.0 * 1.2


def test_decimal_retry_after_is_honoured() -> None:
    """Retry-After: 2.0 (as some large APIs send) waits 2.0 s, not the backoff."""
    calls = Counter[int]()

    def tweak(page: int, body: dict[str, Any]) -> Any:
        import httpx

        calls[page] += 1
        return httpx.Response(429, headers={"Retry-After": "2.0"}) if calls[page] == 1 else None

    client, _, events = FakeAPI(people(6), tweak=tweak).client(per_page=6)
    assert len(client.fetch_all_customers()) == 6
    waits = [e.fields["wait"] for e in events if e.name == "rate_limited"]
    assert waits == [2.0]
    assert [e.fields["source"] for e in events if e.name == "rate_limited"] == ["retry_after"]
