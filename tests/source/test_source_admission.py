"""Admission: requests go out in priority order, due retries before first attempts.

Time is fake: the limiter's ``sleep`` moves the clock and yields once, nothing waits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from customer_sync.source.admission import Priority, RequestGate
from customer_sync.source.ratelimit import AdaptiveRateLimiter

FIRST, RETRY = Priority.FIRST_ATTEMPT, Priority.RETRY


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


def gate_of(*, concurrency: int, rate: float | None = None) -> tuple[RequestGate, Clock]:
    clock = Clock()
    limiter = AdaptiveRateLimiter(rate=rate, burst=1, clock=clock, sleep=clock.sleep)
    return RequestGate(concurrency=concurrency, limiter=limiter), clock


async def settle() -> None:
    """Let every task that can run get as far as it can (into line, say)."""
    for _ in range(10):
        await asyncio.sleep(0)


def sender(
    gate: RequestGate, sent: list[str], inside: Callable[[], None] | None = None
) -> Callable[[str, Priority], Awaitable[None]]:
    async def send(name: str, priority: Priority) -> None:
        async with gate.admit(priority):
            sent.append(name)
            if inside is not None:
                inside()
            await asyncio.sleep(0)  # on the wire for a moment

    return send


@pytest.mark.parametrize(("attempt", "priority"), [(1, FIRST), (2, RETRY), (3, RETRY), (4, RETRY)])
def test_priority_of_an_attempt(attempt: int, priority: Priority) -> None:
    """A page's first request is a first attempt; every later one is a retry."""
    assert Priority.of_attempt(attempt) is priority


def test_a_due_retry_takes_the_next_slot_ahead_of_first_attempts_in_line() -> None:
    """Retries jump the line in arrival order; the request already next keeps its turn."""
    gate, _ = gate_of(concurrency=1)
    sent: list[str] = []
    send = sender(gate, sent)

    async def main() -> None:
        async with gate.admit(FIRST):  # the one slot is taken
            tasks = [
                asyncio.create_task(send(name, priority))
                for name, priority in [
                    ("page 3", FIRST),  # next: its turn, waiting for the slot
                    ("page 4", FIRST),
                    ("page 2, retry", RETRY),
                    ("page 5", FIRST),
                    ("page 7, retry", RETRY),
                ]
            ]
            await settle()
        await asyncio.gather(*tasks)

    asyncio.run(main())
    assert sent == ["page 3", "page 2, retry", "page 7, retry", "page 4", "page 5"]


def test_the_next_rate_limit_token_goes_to_the_retry() -> None:
    """At 2 req/s a retry that arrives after page 3 still gets the earlier token."""
    gate, clock = gate_of(concurrency=8, rate=2.0)
    sent: list[tuple[str, float]] = []

    async def send(name: str, priority: Priority) -> None:
        async with gate.admit(priority):
            sent.append((name, clock.now))

    async def main() -> None:
        await asyncio.gather(
            send("page 1", FIRST),
            send("page 2", FIRST),
            send("page 3", FIRST),
            send("page 9, retry", RETRY),
        )

    asyncio.run(main())
    assert sent == [("page 1", 0.0), ("page 2", 0.5), ("page 9, retry", 1.0), ("page 3", 1.5)]


def test_a_request_cancelled_in_line_is_skipped() -> None:
    """Cancelling a waiting request, or the one whose turn it is, never stalls the line."""
    gate, _ = gate_of(concurrency=1)
    sent: list[str] = []
    send = sender(gate, sent)

    async def main() -> None:
        async with gate.admit(FIRST):
            tasks = {n: asyncio.create_task(send(n, FIRST)) for n in ("a", "b", "c", "d")}
            await settle()
            tasks["a"].cancel()  # its turn, waiting for the slot
            tasks["c"].cancel()  # in line
            await settle()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
        await asyncio.wait_for(send("e", FIRST), timeout=1)  # the gate is free again

    asyncio.run(main())
    assert sent == ["b", "d", "e"]


def test_a_request_cancelled_just_after_getting_its_turn_passes_it_on() -> None:
    """Given the turn but cancelled before using it, a request hands the turn to the next."""
    gate, _ = gate_of(concurrency=1)
    sent: list[str] = []
    tasks: dict[str, asyncio.Task[None]] = {}

    def cancel_b() -> None:
        tasks["b"].cancel()  # "a" has just passed the turn to "b"

    send = sender(gate, sent)
    send_a = sender(gate, sent, inside=cancel_b)

    async def main() -> None:
        async with gate.admit(FIRST):
            tasks["a"] = asyncio.create_task(send_a("a", FIRST))
            tasks["b"] = asyncio.create_task(send("b", FIRST))
            tasks["c"] = asyncio.create_task(send("c", FIRST))
            await settle()
        await asyncio.wait_for(asyncio.gather(*tasks.values(), return_exceptions=True), 1)

    asyncio.run(main())
    assert sent == ["a", "c"]
    assert tasks["b"].cancelled()


def test_a_request_cancelled_while_waiting_for_its_token_gives_its_slot_back() -> None:
    """A request stopped while the limiter holds it back frees its slot and its turn."""
    clock = Clock()
    sent: list[str] = []

    async def main() -> None:
        paced = asyncio.Event()

        async def sleep(seconds: float) -> None:
            clock.now += seconds
            await paced.wait()

        limiter = AdaptiveRateLimiter(rate=1.0, burst=1, clock=clock, sleep=sleep)
        gate = RequestGate(concurrency=1, limiter=limiter)
        send = sender(gate, sent)
        await send("a", FIRST)
        b = asyncio.create_task(send("b", FIRST))  # holds the one slot, waiting to be paced
        await settle()
        b.cancel()
        paced.set()
        await asyncio.wait_for(send("c", FIRST), timeout=1)

    asyncio.run(main())
    assert sent == ["a", "c"]
