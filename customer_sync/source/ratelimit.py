"""Client-side rate limiting: a token bucket that adapts to what the server allows.

* **Pacing.** A token bucket (GCRA) spaces requests at ``rate`` per second with a burst
  of ``burst``. ``rate=None`` means unlimited.
* **Adaptation with rate-limit headers** (any form :mod:`.rate_headers` reads). Once the
  server shows it is saturated (a 429, or ``Remaining`` at 0) the bucket slows to the
  rate the server refills at, and recovers (back to the configured ``rate``) once the
  server's bucket is seen full again. The refill rate is *measured* from ``Remaining``:
  between two answers ``a`` and ``b`` the server gained ``remaining_b - remaining_a +
  accepted`` tokens, where ``accepted`` counts the requests sent in between that it
  served. ``Limit`` is taken as the server's burst. Until a measurement exists (it needs
  answers spread over a quarter of a second), ``Limit`` and ``Reset`` give a floor:
  ``limit - remaining - 1`` tokens come back within ``Reset`` seconds. Pacing then
  follows the learned rate, a little slower while the server's bucket looks empty and a
  little faster while it looks half full.
* **Adaptation without headers** (or a server whose ``Remaining`` is always 0): a CUBIC
  curve (:mod:`.cubic`). A 429 cuts the rate to 0.7 of the rate in force; the rate then
  grows back with time. Only 429s lower it, and only once per round trip: a 429 for a
  request sent before the last cut is an echo of the same congestion. Nor does a 429
  that the client's rate cannot explain: one while it sends below 0.9 of the rate the
  server served over any 2 s of the last 10 (a limiter refuses only above its rate; this
  is a fault or a quota, and the page just waits its Retry-After). Nothing the client
  measures of its own sending lowers it, so a client holding back (few pages left,
  everyone waiting out a backoff) keeps its rate. The first cut, when no rate was in
  force yet, starts from the rate the client was sending at, measured over the last
  second, and only if it was really sending (two requests or more in that second).
* :meth:`AdaptiveRateLimiter.new_pass`: a new pass over the data starts at the best rate
  learned (the curve's ``w_max``), not at wherever the last cut left it.

The page that got a 429 waits out its ``Retry-After`` (see :mod:`.fetcher`); the others
carry on at the adapted pace. Time comes from the injected ``clock`` and ``sleep``.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from .cubic import CubicRate
from .rate_headers import RateLimitHeaders, parse_rate_limit_headers
from .retry import parse_retry_after

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
#: The window (seconds) over which the first cut measures the client's own sending.
SEND_WINDOW = 1.0
#: The longest a 429's Retry-After keeps the CUBIC curve flat, seconds.
MAX_HOLD = 5.0
#: The rate the server was seen to serve: the most accepted requests sent within any
#: SERVED_SPAN seconds of the last SERVED_WINDOW, per second. A 429 while the client
#: sends below UNEXPLAINED of it is not the rate's doing (the server just served more):
#: it does not cut.
SERVED_SPAN = 2.0
SERVED_WINDOW = 10.0
UNEXPLAINED = 0.9


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
        wall_clock: Callable[[], float] | None = None,
    ) -> None:
        self.configured_rate = rate
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._on_change = on_change
        self._wall = wall_clock or time.time
        self._tat = float("-inf")  # theoretical arrival time of the next request (GCRA)
        self._adapting = False
        self._server_burst: int | None = None
        self._measured: float | None = None
        self._bound: float | None = None  # from Limit/Reset: a floor, used until measured
        self._cubic: CubicRate | None = None  # without headers: the CUBIC curve
        self._cut_at = float("-inf")
        self._factor = STEADY
        self._sent: deque[SendTicket] = deque()
        self._served: deque[float] = deque()  # sent_at of the answers that were not 429s

    # -- what the pacing uses -------------------------------------------------------
    @property
    def rate(self) -> float | None:
        """Requests per second the bucket currently allows; ``None`` is unlimited."""
        if not self._adapting:
            return self.configured_rate
        learned = self._measured if self._measured is not None else self._bound
        if learned is not None:
            adapted = learned * self._factor
        elif self._cubic is not None:
            # Nothing tells how full the server's bucket is: follow the CUBIC curve.
            adapted = self._cubic.rate(self._clock())
        else:
            return self.configured_rate
        if self.configured_rate is None:
            return adapted
        return min(self.configured_rate, adapted)

    @property
    def clock(self) -> Callable[[], float]:
        return self._clock

    @property
    def adapting(self) -> bool:
        return self._adapting

    @property
    def best_rate(self) -> float | None:
        """The rate the server last refused (CUBIC's ``w_max``), if one was learned."""
        return self._cubic.w_max if self._cubic is not None else None

    def new_pass(self) -> None:
        """A new pass over the data starts at the best rate learned, not a stale low one."""
        if self._cubic is not None:
            self._cubic.resume_at_best(self._clock())

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
        if status is not None and status != 429:
            self._served.append(ticket.sent_at)
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
        blind = not info.present or info.remaining == 0  # nothing better to go on
        if status == 429 and blind and self._measured is None and self._bound is None:
            self._cut(ticket, parse_retry_after(headers.get("retry-after"), now=self._wall()))
        server_burst = self._server_burst
        if info.remaining is not None and server_burst is not None:
            if info.remaining <= 1:
                self._factor = SLOWER
            elif info.remaining >= server_burst - 1 and status != 429 and server_burst > 1:
                # (a server burst of 1 always shows 0 left: it never looks full)
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

    def _cut(self, ticket: SendTicket, retry_after: float | None) -> None:
        """A 429 without usable headers: cut the CUBIC curve, once per round trip."""
        now = self._clock()
        if ticket.sent_at <= self._cut_at:
            return  # sent before the last cut: the same congestion, already answered
        if self._cubic is not None:
            if self._unexplained(now):
                return  # the server just served more than the client sends now
            current = self._cubic.rate(now)
        else:
            sending = self._sending_rate(now)
            if sending is None:
                return  # the client was holding back: nothing to learn from this 429
            current = sending
            self._cubic = CubicRate(w_max=current, cut_at=now)
        if self.configured_rate is not None:
            current = min(current, self.configured_rate)
        self._cubic.cut(current, now, hold=min(retry_after or 0.0, MAX_HOLD))
        self._cut_at = now
        self._changed("rate_limit_cut")

    def _unexplained(self, now: float) -> bool:
        """Whether a 429 now is not the client's rate: it sends below UNEXPLAINED of the
        rate the server served within the last SERVED_WINDOW seconds. A rate limiter
        refuses a client only above the rate it allows; this is a glitch, a fault or a
        per-request quota, and the page waits its Retry-After without a cut."""
        served = self._served
        while served and served[0] < now - SERVED_WINDOW:
            served.popleft()
        peak, end = 0, 0
        times = list(served)
        for start, began in enumerate(times):
            if began + SERVED_SPAN > now:
                break  # only whole spans: a burst's first instant is no rate
            while end < len(times) and times[end] < began + SERVED_SPAN:
                end += 1
            peak = max(peak, end - start)
        if peak == 0:
            return False
        sending = self._sending_rate(now) or 1.0
        return sending < UNEXPLAINED * peak / SERVED_SPAN

    def _sending_rate(self, now: float) -> float | None:
        """Requests/s the client sent over the last second, if it sent two or more."""
        sent = [t.sent_at for t in self._sent if t.sent_at >= now - SEND_WINDOW]
        if len(sent) < 2:
            return None
        span = max(now - sent[0], MIN_MEASURE_SPAN)
        return len(sent) / span

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
