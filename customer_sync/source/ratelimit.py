"""Client-side rate limiting: a token bucket that adapts to what the server allows.

* **Pacing.** A token bucket (GCRA) spaces requests at ``rate`` per second with a burst
  of ``burst``. ``rate=None`` means unlimited.
* **Adaptation.** Once the server shows it is saturated (a 429, or
  ``X-RateLimit-Remaining`` at 0) the bucket slows to the rate the server refills at,
  and recovers (back to the configured ``rate``) once the server's bucket is seen full
  again. The refill rate is *measured* from ``X-RateLimit-Remaining``: between two
  answers ``a`` and ``b`` the server gained ``remaining_b - remaining_a + accepted``
  tokens, where ``accepted`` counts the requests sent in between that it served.
  ``X-RateLimit-Limit`` is taken as the server's burst. Until a measurement exists
  (it needs answers spread over a quarter of a second), ``Limit`` and ``Reset`` give a
  floor: ``limit - remaining - 1`` tokens come back within ``Reset`` seconds. It is
  only a floor, as ``Reset`` is whole seconds: ``10`` per ``1`` s could be anything
  from 9 to 40 requests/s. A server with a burst of 1 shows neither (its ``Remaining``
  is always 0), so the rate it served lately is used. Pacing then follows the learned
  rate, a little slower while the server's bucket looks empty and a little faster while
  it looks half full.

The page that got a 429 waits out its ``Retry-After`` (see :mod:`.fetcher`); the others
carry on at the adapted pace. Time comes from the injected ``clock`` and ``sleep``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

__all__ = [
    "AdaptiveRateLimiter",
    "RateLimitHeaders",
    "SendTicket",
    "parse_rate_limit_headers",
]

#: How far back (seconds) the refill measurement looks.
MEASURE_WINDOW = 5.0
#: The shortest span (seconds) a refill measurement may rest on.
MIN_MEASURE_SPAN = 0.25
#: Pacing relative to the measured refill rate, by how full the server's bucket looks.
SLOWER, STEADY, FASTER = 0.97, 1.0, 1.1


@dataclass(frozen=True, slots=True)
class RateLimitHeaders:
    limit: int | None
    remaining: int | None
    reset: float | None


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    text = value.strip()
    if not text.isascii() or not text.isdigit():
        return None
    return int(text)


def parse_rate_limit_headers(headers: Mapping[str, str]) -> RateLimitHeaders:
    """``X-RateLimit-Limit/Remaining/Reset`` as integers; anything unparsable is ``None``."""
    reset = _int_header(headers, "x-ratelimit-reset")
    return RateLimitHeaders(
        limit=_int_header(headers, "x-ratelimit-limit"),
        remaining=_int_header(headers, "x-ratelimit-remaining"),
        reset=None if reset is None else float(reset),
    )


@dataclass(slots=True)
class SendTicket:
    """One request as the limiter saw it: when it went out, and what came back."""

    sent_at: float
    done: bool = False
    accepted: bool = True
    remaining: int | None = None


class AdaptiveRateLimiter:
    def __init__(
        self,
        *,
        rate: float | None,
        burst: int,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        on_change: Callable[[str, float | None], None] | None = None,
    ) -> None:
        self.configured_rate = rate
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._on_change = on_change
        self._tat = float("-inf")  # theoretical arrival time of the next request (GCRA)
        self._adapting = False
        self._server_burst: int | None = None
        self._measured: float | None = None
        self._bound: float | None = None  # from Limit/Reset: a floor, used until measured
        self._throughput: float | None = None  # served requests/s: the last resort
        self._last_refused = False
        self._factor = STEADY
        self._sent: deque[SendTicket] = deque()

    # -- what the pacing uses -------------------------------------------------------
    @property
    def rate(self) -> float | None:
        """Requests per second the bucket currently allows; ``None`` is unlimited."""
        if not self._adapting:
            return self.configured_rate
        learned = self._measured if self._measured is not None else self._bound
        if learned is not None:
            adapted = learned * self._factor
        elif self._throughput is not None:
            # Nothing tells how full the server's bucket is: probe upwards until a 429.
            adapted = self._throughput * (STEADY if self._last_refused else FASTER)
        else:
            return self.configured_rate
        if self.configured_rate is None:
            return adapted
        return min(self.configured_rate, adapted)

    @property
    def adapting(self) -> bool:
        return self._adapting

    # -- acquire ------------------------------------------------------------------
    async def acquire(self) -> SendTicket:
        """Wait until a request may go out; returns the ticket to :meth:`observe` later.

        Nothing is reserved while waiting: a waiter re-reads the rate when it wakes, so
        a rate that changes (adapts or recovers) applies at once to everyone waiting.
        """
        while True:
            rate = self.rate
            now = self._clock()
            if rate is None:
                break
            interval = 1.0 / rate
            earliest = self._tat - (self.burst - 1) * interval
            if now >= earliest:
                self._tat = max(self._tat, now) + interval
                break
            await self._sleep(earliest - now)
        ticket = SendTicket(sent_at=now)
        self._sent.append(ticket)
        self._prune()
        return ticket

    # -- learning -------------------------------------------------------------------
    def observe(self, ticket: SendTicket, status: int | None, headers: Mapping[str, str]) -> None:
        """Record the answer to ``ticket`` (``status=None``: no answer) and adapt."""
        ticket.done = True
        ticket.accepted = status != 429
        self._last_refused = not ticket.accepted
        info = parse_rate_limit_headers(headers)
        ticket.remaining = info.remaining
        if info.limit is not None and info.limit > 0:
            self._server_burst = info.limit
        saturated = status == 429 or info.remaining == 0
        if saturated and not self._adapting:
            self._adapting = True
            self._changed("rate_limit_adapting")
        if not self._adapting:
            return
        if info.limit and info.remaining is not None and info.reset:
            # Reset is whole seconds until the server's bucket is full again, so
            # (limit - remaining - 1) tokens come back in at most `reset` seconds.
            bound = (info.limit - info.remaining - 1) / info.reset
            if bound > 0 and (self._bound is None or bound > self._bound):
                self._bound = bound
        self._measure()
        if self._measured is None and self._bound is None:
            self._measure_throughput()
        server_burst = self._server_burst
        if info.remaining is not None and server_burst is not None:
            if info.remaining <= 1:
                self._factor = SLOWER
            elif info.remaining >= server_burst - 1 and status != 429:
                self._adapting = False  # the server's bucket is full again: recover
                self._factor = STEADY
                self._changed("rate_limit_recovered")
                return
            elif info.remaining >= server_burst / 2:
                self._factor = FASTER
            else:
                self._factor = STEADY

    def _changed(self, name: str) -> None:
        if self._on_change is not None:
            self._on_change(name, self.rate)

    def _prune(self) -> None:
        horizon = self._clock() - MEASURE_WINDOW
        while self._sent and self._sent[0].sent_at < horizon:
            self._sent.popleft()  # a request unanswered this long no longer holds others up

    def _measure_throughput(self) -> None:
        """Requests/s the server served lately: all a bucket of 1 lets us learn."""
        served = [t.sent_at for t in self._sent if t.done and t.accepted]
        if len(served) >= 2 and served[-1] - served[0] >= MIN_MEASURE_SPAN:
            self._throughput = (len(served) - 1) / (served[-1] - served[0])

    def _measure(self) -> None:
        """Refill rate from the oldest and newest usable answers in the window.

        ``b`` is the newest accepted answer whose predecessors have all come back; ``a``
        the oldest accepted answer before it such that the server's bucket never looked
        (nearly) full in between, since a full bucket throws refill away.
        """
        tickets = list(self._sent)
        complete = 0
        while complete < len(tickets) and tickets[complete].done:
            complete += 1
        window = tickets[:complete]
        cap = (self._server_burst or 2) - 2
        newest = next(
            (i for i in range(len(window) - 1, -1, -1) if _usable(window[i]) is not None), None
        )
        if newest is None:
            return
        b = window[newest]
        b_remaining = _usable(b)
        if b_remaining is None or b_remaining > cap:
            return  # the server's bucket may have been full at b: refill was lost
        a_time = a_remaining = None
        accepted = counted = 0
        for index in range(newest - 1, -1, -1):
            if window[index + 1].accepted:
                accepted += 1
            remaining = window[index].remaining
            if remaining is not None and remaining > cap:
                break  # the server's bucket may have been full here: refill was lost
            usable = _usable(window[index])
            if usable is not None:
                a_time, a_remaining, counted = window[index].sent_at, usable, accepted
        if a_time is None or a_remaining is None:
            return
        span = b.sent_at - a_time
        if span < MIN_MEASURE_SPAN:
            return
        refill = (b_remaining - a_remaining + counted) / span
        if refill > 0:
            self._measured = refill


def _usable(ticket: SendTicket) -> int | None:
    """The remaining count of an accepted answer, or ``None``."""
    return ticket.remaining if ticket.accepted else None
