"""Which requests fail, and how: deterministic for a seed, capped per page.

The decision for a request is a hash of ``(seed, key, attempt)`` where ``key`` names the
resource (a page with its ``per_page``, or one user) and ``attempt`` counts earlier
requests for that key. No shared RNG is involved, so the order in which concurrent
requests arrive cannot change which attempt of which page fails. After
``max_consecutive_failures`` injected failures in a row for one key, the next request
for it is served cleanly, so a client within its retry budget always finishes.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass
from typing import Final

from .config import SimulatorConfig
from .randomness import Bits, mix, to_unit

__all__ = ["Fault", "FaultInjector", "FaultKey"]

_SALT_FAULT: Final = 0x4641554C
_SALT_KIND: Final = 0x4B494E44

#: A resource requests are counted against: ``(1, page, per_page)`` or ``(2, user_id)``.
FaultKey = tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected failure.

    ``status`` is the HTTP status for ``5xx`` and ``429``; ``html`` picks an HTML body for
    ``5xx``; ``http_date`` makes a ``429``'s Retry-After an HTTP-date; ``cut`` is the
    fraction of the body sent before a truncation or a mid-body reset; ``variant`` picks
    among the invalid-JSON bodies.
    """

    kind: str
    status: int | None = None
    html: bool = False
    http_date: bool = False
    cut: float = 0.5
    variant: int = 0

    @property
    def label(self) -> str:
        """A stable detail label for stats, such as ``http_503_html`` or ``reset``."""
        if self.kind == "5xx":
            return f"http_{self.status}_{'html' if self.html else 'json'}"
        if self.kind == "429":
            return f"http_429_{'date' if self.http_date else 'seconds'}"
        return self.kind


class FaultInjector:
    """Decides, per request, whether and how to fail. Thread-safe."""

    def __init__(self, config: SimulatorConfig) -> None:
        self._seed = config.seed
        self._rate = config.fault_rate if config.faults_enabled else 0.0
        self._kinds = tuple(config.fault_kinds)
        self._statuses = tuple(config.error_statuses)
        self._cap = config.max_consecutive_failures
        self._lock = threading.Lock()
        self._attempts: defaultdict[FaultKey, int] = defaultdict(int)
        self._failures_in_a_row: defaultdict[FaultKey, int] = defaultdict(int)

    def decide(self, key: FaultKey) -> Fault | None:
        """The fault for the next request on ``key``, or ``None`` to serve it cleanly."""
        if self._rate <= 0.0:
            return None
        with self._lock:
            attempt = self._attempts[key]
            self._attempts[key] = attempt + 1
            if self._cap is not None and self._failures_in_a_row[key] >= self._cap:
                self._failures_in_a_row[key] = 0
                return None
            if to_unit(mix(self._seed, _SALT_FAULT, attempt, *key)) >= self._rate:
                self._failures_in_a_row[key] = 0
                return None
            self._failures_in_a_row[key] += 1
        return self._fault(Bits(self._seed, _SALT_KIND, attempt, *key))

    def _fault(self, bits: Bits) -> Fault:
        kind = bits.pick(self._kinds)
        if kind == "5xx":
            return Fault(kind, status=bits.pick(self._statuses), html=bits.chance(0.5))
        if kind == "429":
            return Fault(kind, status=429, http_date=bits.chance(0.5))
        if kind in ("truncated", "reset_mid_body"):
            return Fault(kind, cut=(1 + bits.below(98)) / 100)
        if kind == "invalid_json":
            return Fault(kind, variant=bits.below(4))
        return Fault(kind)

    def attempts(self, key: FaultKey) -> int:
        """How many requests ``key`` has received so far."""
        with self._lock:
            return self._attempts[key]
