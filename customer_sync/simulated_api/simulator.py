"""The state behind one running simulated API, and the decisions made per request.

One :class:`Simulator` holds the dataset (seen through page drift), the fault injector,
the token bucket, the stats and the injected edges (clock, wall clock, sleep). The
Starlette routes in :mod:`.app` are thin: they ask the simulator what to answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import itertools
import time
from collections.abc import Coroutine
from datetime import UTC, datetime
from email.utils import formatdate
from math import ceil
from typing import Any, Final

import orjson

from .changes import LiveData
from .config import SimulatorConfig
from .dataset import Dataset
from .demo import demo_dataset
from .drift import DriftView
from .faults import FaultInjector
from .generator import GeneratedDataset
from .paging import page_start, total_pages
from .randomness import mix, to_unit
from .ratelimit import TokenBucket
from .stats import SimulatorStats

__all__ = ["SUPPORT", "Simulator", "build_dataset"]

#: The ``support`` object reqres.in puts on every page.
SUPPORT: Final = {
    "url": "https://reqres.in/#support-heading",
    "text": "To keep ReqRes free, contributions towards server costs are appreciated!",
}

_SALT_LATENCY: Final = 0x4C415459
_SALT_RETRY_DATE: Final = 0x44415445
_SALT_RETRY_FORM: Final = 0x464F524D

#: The Retry-After forms a header-less limiter mixes (``rate_limit_headers="none"``).
RETRY_AFTER_FORMS: Final = ("seconds", "date", "decimal", "missing", "garbage")


def build_dataset(config: SimulatorConfig, now: datetime) -> Dataset:
    """The demo dataset (``customers=None``) or a generated one of that size."""
    if config.customers is None:
        return demo_dataset(now, seed=config.seed)
    return GeneratedDataset(
        config.customers,
        seed=config.seed,
        now=now,
        duplicate_rate=config.duplicate_rate,
        bad_record_rate=config.bad_record_rate,
    )


class Simulator:
    """Everything one app instance needs to answer requests."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.now = config.now or datetime.now(UTC)
        self.dataset = build_dataset(config, self.now)
        self.view = DriftView(
            self.dataset,
            mode=config.drift,
            every=config.drift_every,
            max_events=config.drift_max_events,
            seed=config.seed,
        )
        self.faults = FaultInjector(config)
        self.bucket = TokenBucket(config.rate_limit, config.burst, config.clock or time.monotonic)
        self.stats = SimulatorStats(clock=config.clock or time.monotonic)
        self.sleep = config.sleep or asyncio.sleep
        self.wall_clock = config.wall_clock or time.time
        self.live = LiveData(
            self.dataset,
            cursor_field=config.cursor_field,
            seed=config.seed,
            wall_clock=self.wall_clock,
        )
        if any(config.change_batch.values()):
            self.live.apply_batch(config.change_batch)
        self._list_requests = itertools.count(1)
        self._requests = itertools.count()
        self._throttled = itertools.count()
        self._hostile: dict[tuple[int, int], int] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing: asyncio.Event | None = None

    # -- auth -----------------------------------------------------------------------
    def authorized(self, api_key: str | None) -> bool:
        expected = self.config.api_key
        if expected is None:
            return True
        return api_key is not None and hmac.compare_digest(api_key.encode(), expected.encode())

    # -- timing ---------------------------------------------------------------------
    def latency(self, request_number: int) -> float:
        """Seconds of latency for the ``request_number``-th request (fixed ± jitter)."""
        base = self.config.latency_ms / 1000.0
        if base <= 0.0:
            return 0.0
        jitter = self.config.latency_jitter
        u = to_unit(mix(self.config.seed, _SALT_LATENCY, request_number))
        return base * (1.0 + jitter * (2.0 * u - 1.0))

    async def delay(self) -> None:
        """Sleep this request's latency (through the injected sleep)."""
        seconds = self.latency(next(self._requests))
        if seconds > 0.0:
            await self.sleep(seconds)

    def retry_after(self, seconds: int, *, http_date: bool) -> str:
        """A Retry-After value: delta-seconds, or the HTTP-date that many seconds ahead."""
        if not http_date:
            return str(seconds)
        return formatdate(ceil(self.wall_clock() + seconds), usegmt=True)

    def throttled_retry_after(self, seconds: int, wait: float) -> str | None:
        """The Retry-After of a token-bucket 429 (``None``: no header at all).

        With rate-limit headers, delta-seconds or an HTTP-date. Without them, a mix of
        :data:`RETRY_AFTER_FORMS`, as servers that send nothing else do.
        """
        if self.config.rate_limit_headers != "none":
            return self.retry_after(seconds, http_date=self.throttled_uses_date())
        n = next(self._throttled)
        form = RETRY_AFTER_FORMS[mix(self.config.seed, _SALT_RETRY_FORM, n) % 5]
        if form == "missing":
            return None
        if form == "garbage":
            return "soon"
        if form == "decimal":
            return f"{max(0.1, wait):.1f}"
        return self.retry_after(seconds, http_date=form == "date")

    def hostile(self, page: int, per_page: int) -> bool:
        """Whether this answer to a list request gets a hostile body."""
        config = self.config
        if not config.hostile_bodies:
            return False
        if config.hostile_attempts is None:
            return True
        key = (page, per_page)
        seen = self._hostile.get(key, 0)
        self._hostile[key] = seen + 1
        return seen < config.hostile_attempts

    def throttled_uses_date(self) -> bool:
        """Whether the next token-bucket 429 spells Retry-After as an HTTP-date."""
        return bool(mix(self.config.seed, _SALT_RETRY_DATE, next(self._throttled)) & 1)

    async def stall(self, client_gone: Coroutine[Any, Any, None]) -> bool:
        """Wait ``stall_seconds``; return False if the client left first.

        ``client_gone`` completes when the client disconnects. The wait also ends early
        when the server shuts down (:meth:`close`).
        """
        tasks = {
            "sleep": asyncio.ensure_future(self.sleep(self.config.stall_seconds)),
            "gone": asyncio.ensure_future(client_gone),
            "closing": asyncio.ensure_future(self._closing_event().wait()),
        }
        done, pending = await asyncio.wait(tasks.values(), return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        return tasks["gone"] not in done

    def _closing_event(self) -> asyncio.Event:
        if self._closing is None:
            self._loop = asyncio.get_running_loop()
            self._closing = asyncio.Event()
        return self._closing

    def close(self) -> None:
        """Release stalled requests; safe to call from any thread."""
        loop, event = self._loop, self._closing
        if loop is None or event is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(event.set)

    # -- content --------------------------------------------------------------------
    def on_list_request(self) -> None:
        """Count a list request; every ``change_every``-th one changes the data."""
        every = self.config.change_every
        if every and next(self._list_requests) % every == 0:
            self.live.apply_batch(self.config.change_batch)

    def page_body(
        self, page: int, per_page: int, since_us: int | None = None
    ) -> tuple[bytes, int]:
        """The JSON body of one list page and the number of records on it.

        ``since_us`` (the incremental parameter, UTC microseconds) filters and orders by
        the cursor (see :mod:`.changes`); once the data has changed the natural order
        comes from the live data, not the drift view.
        """
        start = page_start(page, per_page)
        if since_us is not None:
            total, records = self.live.filtered(since_us, start, start + per_page)
        elif self.live.changed:
            total = len(self.live)
            records = self.live.records(start, start + per_page) if start < total else []
        else:
            total = len(self.view)
            records = self.view.records(start, start + per_page) if start < total else []
        body = orjson.dumps(
            {
                "page": page,
                "per_page": per_page,
                "total": total,
                "total_pages": (
                    total_pages(total, per_page)
                    if self.config.claimed_total_pages is None
                    else self.config.claimed_total_pages
                ),
                "data": records,
                "support": SUPPORT,
            }
        )
        return body, len(records)

    def user_body(self, user_id: int) -> bytes | None:
        """The JSON body of ``GET /users/{id}``, or ``None`` when there is no such user."""
        record = self.live.find(user_id) if self.live.changed else self.view.find(user_id)
        if record is None:
            return None
        return orjson.dumps({"data": record, "support": SUPPORT})
