"""A server-side token bucket with an injectable clock, and the headers it implies."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Final

from .config import Clock

__all__ = ["UNLIMITED", "RateDecision", "TokenBucket"]

#: What ``X-RateLimit-Limit`` and ``-Remaining`` say when no rate limit is configured.
UNLIMITED: Final = 1_000_000


@dataclass(frozen=True, slots=True)
class RateDecision:
    """The outcome of asking the bucket for one token.

    ``reset`` is whole seconds until the bucket is full again; ``retry_after`` is whole
    seconds until the next token (at least 1), meaningful when ``allowed`` is false.
    """

    allowed: bool
    limit: int
    remaining: int
    reset: int
    retry_after: int = 0
    wait: float = 0.0  # the exact seconds until the next token (when refused)
    window: int = 1  # seconds the bucket takes to fill from empty (the draft's ``w``)

    def headers(self, style: str = "x") -> dict[str, str]:
        """The rate-limit headers in ``style`` (see ``SimulatorConfig.rate_limit_headers``)."""
        if style == "none":
            return {}
        if style == "ietf":
            return {
                "ratelimit-limit": str(self.limit),
                "ratelimit-remaining": str(self.remaining),
                "ratelimit-reset": str(self.reset),
            }
        if style == "structured":
            return {
                "ratelimit": f'"default";r={self.remaining};t={self.reset}',
                "ratelimit-policy": f'"default";q={self.limit};w={self.window}',
            }
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-reset": str(self.reset),
        }


class TokenBucket:
    """``burst`` tokens, refilled at ``rate`` per second; ``rate=0`` means unlimited."""

    def __init__(self, rate: float, burst: int, clock: Clock) -> None:
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._updated = clock()

    @property
    def unlimited(self) -> bool:
        return self._rate <= 0.0

    def acquire(self) -> RateDecision:
        """Take one token if there is one."""
        if self.unlimited:
            return RateDecision(True, UNLIMITED, UNLIMITED, 0)
        with self._lock:
            now = self._clock()
            elapsed = max(0.0, now - self._updated)
            self._tokens = min(float(self._burst), self._tokens + elapsed * self._rate)
            self._updated = now
            allowed = self._tokens >= 1.0
            if allowed:
                self._tokens -= 1.0
            tokens = self._tokens
        reset = math.ceil((self._burst - tokens) / self._rate)
        wait = 0.0 if allowed else (1.0 - tokens) / self._rate
        retry_after = 0 if allowed else max(1, math.ceil(wait))
        window = max(1, math.ceil(self._burst / self._rate))
        return RateDecision(
            allowed, self._burst, math.floor(tokens), reset, retry_after, wait, window
        )
