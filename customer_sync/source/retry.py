"""The retry policy as pure functions: what is retried, and how long to wait.

Only a named set of causes is retried (see :data:`RETRIABLE_STATUSES` and
:func:`transport_cause`); everything else is fatal. Nothing here sleeps or reads a clock:
the caller passes ``now`` and a seeded ``random.Random`` in.
"""

from __future__ import annotations

import random
import re
import ssl
from datetime import UTC
from email.utils import parsedate_to_datetime

import httpx

__all__ = [
    "AUTH_STATUSES",
    "RETRIABLE_STATUSES",
    "certificate_failure",
    "compute_backoff",
    "parse_retry_after",
    "status_cause",
    "transport_cause",
]

#: Statuses worth another attempt. 429 has its own budget (the rate-limit wait budget).
RETRIABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
AUTH_STATUSES = frozenset({401, 403})

#: delay-seconds, and the decimal form some large APIs send (``2.0``).
_DELAY_SECONDS = re.compile(r"[0-9]{1,9}(?:\.[0-9]{1,6})?")


def status_cause(status: int) -> str:
    """The stable label of a retriable status: ``rate_limited`` for 429, else ``http_<status>``."""
    return "rate_limited" if status == 429 else f"http_{status}"


def transport_cause(exc: httpx.TransportError) -> str | None:
    """The retry cause of a transport failure, or ``None`` when it must not be retried.

    Retried: connect errors and timeouts, read/pool/write timeouts (a stalled server), and
    connections that broke before the headers or in the middle of the body.
    Not retried: our own protocol mistakes, unsupported schemes, proxy errors.
    """
    if isinstance(exc, httpx.ConnectTimeout):
        return "connect_timeout"
    if isinstance(exc, httpx.ReadTimeout):
        return "read_timeout"
    if isinstance(exc, httpx.PoolTimeout):
        return "pool_timeout"
    if isinstance(exc, httpx.WriteTimeout):
        return "write_timeout"
    if isinstance(exc, httpx.ConnectError):
        return "connect_error"
    if isinstance(exc, httpx.ReadError | httpx.WriteError | httpx.RemoteProtocolError):
        return "reset"
    return None


def certificate_failure(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """The TLS certificate verification error behind ``exc``, if that is what it is.

    httpx reports a refused certificate as a ``ConnectError`` chained (through httpcore)
    to :class:`ssl.SSLCertVerificationError`. Another attempt cannot fix it, so the caller
    fails at once instead of retrying a connect error.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLCertVerificationError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait according to a ``Retry-After`` header, or ``None`` if unusable.

    Accepts both RFC 9110 forms: ``delay-seconds`` (ASCII digits, and also a decimal such as
    ``1.5`` or ``2.0``, which some large APIs send) and an HTTP-date, which is turned into
    a delay with ``now`` (seconds since the epoch). A date in the past means "no wait".
    Anything else, such as ``-3`` or ``soon``, gives ``None`` so that the caller falls back
    to its backoff: a bad header never crashes a run.
    """
    if value is None:
        return None
    text = value.strip()
    if _DELAY_SECONDS.fullmatch(text):
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # asctime dates carry no zone; HTTP-dates are always GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def compute_backoff(
    attempt: int,
    *,
    base: float,
    factor: float,
    maximum: float,
    jitter: float,
    rng: random.Random,
) -> float:
    """The wait before retry number ``attempt`` (1-based): exponential, capped, jittered.

    ``base * factor ** (attempt - 1)``, plus up to ``jitter`` of itself (a fraction), then
    capped at ``maximum``. With ``jitter=0`` the waits are exactly 1, 2, 4 ... seconds.
    """
    exponent = max(0, attempt - 1)
    try:
        nominal = base * factor**exponent
    except OverflowError:
        nominal = maximum
    spread = nominal * jitter * rng.random() if jitter else 0.0
    return min(maximum, nominal + spread)
