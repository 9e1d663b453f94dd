"""The order in which requests go out: due retries first, then first attempts.

A request needs a connection slot (at most ``concurrency`` on the wire) and a token from
the rate limiter (:mod:`.ratelimit`). :class:`RequestGate` hands both out one request at
a time, in priority order:

1. **Retries** whose wait (backoff or ``Retry-After``) is over, in the order their waits
   ended.
2. **First attempts**, in the order the loop planned them.

Why retries first: each failure of a page makes its next wait longer (1, 2, 4 s by
default), so its retries should not queue behind pages nobody has tried yet. And the
requests left for the end of a sync are then first attempts, whose failure costs the
shortest backoff. The request whose turn it is waits for its slot and token; a request
that comes in meanwhile, even a retry, waits behind it (no pre-emption). A page waiting
out its backoff is not in line at all, so it never holds a slot.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from enum import IntEnum

from .ratelimit import AdaptiveRateLimiter, SendTicket

__all__ = ["Priority", "RequestGate"]


class Priority(IntEnum):
    """Lower goes first."""

    RETRY = 0
    FIRST_ATTEMPT = 1

    @classmethod
    def of_attempt(cls, attempt: int) -> Priority:
        """The priority of a page's ``attempt``-th request (1-based)."""
        return cls.FIRST_ATTEMPT if attempt <= 1 else cls.RETRY


class RequestGate:
    """Connection slots and rate-limit tokens, given out in :class:`Priority` order."""

    def __init__(self, *, concurrency: int, limiter: AdaptiveRateLimiter) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._limiter = limiter
        self._line: list[tuple[Priority, int, asyncio.Future[None]]] = []
        self._arrivals = itertools.count()
        self._turn_taken = False

    @asynccontextmanager
    async def admit(self, priority: Priority) -> AsyncIterator[SendTicket]:
        """Wait for this request's turn, a free slot and a token; the slot is held inside.

        The ticket is the limiter's, to pass to :meth:`AdaptiveRateLimiter.observe`.
        """
        await self._take_turn(priority)
        try:
            await self._slots.acquire()
            try:
                ticket = await self._limiter.acquire()
            except BaseException:
                self._slots.release()
                raise
        finally:
            self._pass_turn()
        try:
            yield ticket
        finally:
            self._slots.release()

    async def _take_turn(self, priority: Priority) -> None:
        if not self._turn_taken:
            self._turn_taken = True
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._line, (priority, next(self._arrivals), turn))
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._pass_turn()  # given the turn, but cancelled before using it
            raise

    def _pass_turn(self) -> None:
        while self._line:
            *_, turn = heapq.heappop(self._line)
            if not turn.done():  # a waiter cancelled in line is skipped
                turn.set_result(None)
                return
        self._turn_taken = False
