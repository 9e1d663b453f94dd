"""A CUBIC rate curve: what the limiter follows when the server sends no rate headers.

The same law as TCP CUBIC (RFC 9438) and botocore's ``CubicCalculator``
(``botocore/retries/adaptive.py``, the AWS SDKs' "adaptive" retry mode). On a 429 the
rate is cut to ``beta`` times the rate in force (``w_max``); it then grows back with
*time*, not with demand::

    rate(t) = C * (t - K) ** 3 + w_max,    K = cbrt(w_max * (1 - beta) / C)

so it climbs fast at first, flattens out near ``w_max`` (the rate the server last
refused), and probes above it slowly until the next 429. Unlike botocore, the rate is
never capped by what the client happened to send lately (botocore's ``2 ×
measured rate``): a client holding back (few pages left, every page waiting out a
backoff) would otherwise pull the rate down with it, and never get it back.
Pure: the caller passes the time in.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BETA", "MAX_GROWTH", "MIN_RATE", "SCALE", "CubicRate"]

#: The cut on a 429 (botocore's and RFC 9438's 0.7).
BETA = 0.7
#: How fast the curve grows, in (requests/s) per s³ (botocore's 0.4).
SCALE = 0.4
#: Never slower than this, requests/s.
MIN_RATE = 0.5
#: Never faster than this multiple of ``w_max``: after a long quiet spell (a stalled
#: page, a long Retry-After) the curve would otherwise have climbed to a flood.
MAX_GROWTH = 2.0


@dataclass(slots=True)
class CubicRate:
    """The curve since the last cut. ``w_max`` is the rate the server last refused."""

    w_max: float
    cut_at: float
    beta: float = BETA
    scale: float = SCALE

    @property
    def k(self) -> float:
        """Seconds from a cut until the curve is back at ``w_max``."""
        return float((self.w_max * (1.0 - self.beta) / self.scale) ** (1.0 / 3.0))

    def rate(self, now: float) -> float:
        """The rate allowed at ``now``."""
        t = max(0.0, now - self.cut_at)
        curve = self.scale * (t - self.k) ** 3 + self.w_max
        return max(MIN_RATE, min(curve, MAX_GROWTH * self.w_max))

    def cut(self, current: float, now: float, hold: float = 0.0) -> None:
        """A 429 at ``current`` requests/s: remember it and restart the curve below it.

        ``hold`` (the 429's ``Retry-After``) keeps the curve flat at its low point that
        long: the server said when to come back, and growing before then only earns 429s.
        """
        self.w_max = max(MIN_RATE, current)
        self.cut_at = now + max(0.0, hold)

    def resume_at_best(self, now: float) -> None:
        """Continue at ``w_max`` at least: a new pass starts at the best rate learned."""
        if self.rate(now) < self.w_max:
            self.cut_at = now - self.k
