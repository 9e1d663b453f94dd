"""What the simulator did: requests served and faults injected. Thread-safe."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from .config import FAULT_KINDS

__all__ = ["SimulatorStats"]


class SimulatorStats:
    """Counters updated by the app; read them with :meth:`snapshot`.

    ``requests`` counts every request to the API (``/_stats`` excluded); ``no_response``
    the ones that ended without a complete answer (resets). ``by_status`` counts answers
    by HTTP status, ``per_page_requests`` list requests by page number, ``faults`` the
    injected faults by kind (every kind listed, zeros included) and ``fault_details`` by
    detail label (``http_503_html``, ``http_429_date``, ...). ``rate_limited`` counts 429s
    from the token bucket, which are not faults. ``timeline`` counts answers per whole
    second since the first request: ``[let through the rate limit, refused (429)]``
    (the rate over time; injected faults count as let through).
    """

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self._clock = clock
        self._started: float | None = None
        self._timeline: dict[int, list[int]] = {}
        self._lock = threading.Lock()
        self._requests = 0
        self._no_response = 0
        self._by_status: Counter[int] = Counter()
        self._per_page: Counter[int] = Counter()
        self._faults: Counter[str] = Counter()
        self._fault_details: Counter[str] = Counter()
        self._rate_limited = 0
        self._not_modified = 0
        self._records_served = 0
        self._drift_events = 0
        self._in_flight = 0
        self._max_in_flight = 0

    def request_started(self) -> None:
        with self._lock:
            self._requests += 1
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)

    def request_finished(self, status: int | None) -> None:
        """One request ended, with the status it answered or ``None`` for no answer."""
        with self._lock:
            self._in_flight -= 1
            if status is None:
                self._no_response += 1
            else:
                self._by_status[status] += 1
                self._note_time(status)
                if status == 304:
                    self._not_modified += 1

    def _note_time(self, status: int) -> None:
        if self._clock is None or status == 304:
            return
        now = self._clock()
        if self._started is None:
            self._started = now
        second = self._timeline.setdefault(int(now - self._started), [0, 0])
        second[0 if status != 429 else 1] += 1

    def page_requested(self, page: int) -> None:
        with self._lock:
            self._per_page[page] += 1

    def fault_injected(self, kind: str, label: str) -> None:
        with self._lock:
            self._faults[kind] += 1
            self._fault_details[label] += 1

    def rate_limited(self) -> None:
        with self._lock:
            self._rate_limited += 1

    def records_served(self, count: int) -> None:
        with self._lock:
            self._records_served += count

    def drift_event(self) -> None:
        with self._lock:
            self._drift_events += 1

    def snapshot(self) -> dict[str, Any]:
        """A consistent copy of every counter, as plain JSON-ready values (int keys)."""
        with self._lock:
            return {
                "requests": self._requests,
                "no_response": self._no_response,
                "by_status": dict(sorted(self._by_status.items())),
                "faults": {kind: self._faults[kind] for kind in FAULT_KINDS},
                "faults_total": sum(self._faults.values()),
                "fault_details": dict(sorted(self._fault_details.items())),
                "rate_limited": self._rate_limited,
                "not_modified": self._not_modified,
                "per_page_requests": dict(sorted(self._per_page.items())),
                "records_served": self._records_served,
                "drift_events": self._drift_events,
                "in_flight": self._in_flight,
                "max_in_flight": self._max_in_flight,
                "timeline": {k: list(v) for k, v in sorted(self._timeline.items())},
            }
