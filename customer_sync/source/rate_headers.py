"""Rate-limit headers in the forms real APIs send, read into one shape. Pure.

* ``X-RateLimit-Limit`` / ``-Remaining`` / ``-Reset`` (GitHub, reqres, our simulator).
* The IETF draft's ``RateLimit-Limit`` / ``RateLimit-Remaining`` / ``RateLimit-Reset``
  (draft-ietf-httpapi-ratelimit-headers up to -06; ``Limit`` may carry a policy list
  such as ``10, 10;w=1``: its first item is the limit).
* The draft's structured fields (-07 and later): ``RateLimit: "default";r=50;t=30``
  (``r`` remaining, ``t`` seconds to reset) and ``RateLimit-Policy: "default";q=100;w=60``
  (``q`` quota, the limit). The older dictionary form ``RateLimit: limit=10,
  remaining=5, reset=3`` is read too.

Values that are not non-negative integers, or a reset beyond a day (an epoch timestamp,
say), count as missing: the limiter then falls back as it does without headers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["RateLimitHeaders", "parse_rate_limit_headers"]

#: A reset further away than this is not a delay in seconds (an epoch time, or garbage).
MAX_RESET_SECONDS = 86_400

_PARAM = re.compile(r"(?:^|[;,\s])([a-z]+)=([0-9]+)(?=$|[;,\s])")


@dataclass(frozen=True, slots=True)
class RateLimitHeaders:
    limit: int | None
    remaining: int | None
    reset: float | None

    @property
    def present(self) -> bool:
        """Whether the answer told anything about the server's bucket."""
        return self.limit is not None or self.remaining is not None


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    text = value.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        return None
    return int(text)


def _first_item(value: str | None) -> int | None:
    """``10, 10;w=1`` -> 10 (the draft's limit with its policies)."""
    if value is None:
        return None
    return _int(value.split(",")[0].split(";")[0])


def _params(value: str | None) -> dict[str, int]:
    """Integer parameters of a structured field (``"p";r=5;t=2`` or ``limit=10, reset=3``)."""
    if not value:
        return {}
    found: dict[str, int] = {}
    for name, number in _PARAM.findall(value.lower()):
        if len(number) <= 12:
            found.setdefault(name, int(number))
    return found


def _reset(value: int | None) -> float | None:
    return None if value is None or value > MAX_RESET_SECONDS else float(value)


def parse_rate_limit_headers(headers: Mapping[str, str]) -> RateLimitHeaders:
    """The server's limit, remaining tokens and seconds to reset, from any known form."""
    limit = _int(headers.get("x-ratelimit-limit"))
    remaining = _int(headers.get("x-ratelimit-remaining"))
    reset = _int(headers.get("x-ratelimit-reset"))
    if limit is None and remaining is None:
        limit = _first_item(headers.get("ratelimit-limit"))
        remaining = _int(headers.get("ratelimit-remaining"))
        reset = _int(headers.get("ratelimit-reset"))
    if limit is None and remaining is None:
        fields = _params(headers.get("ratelimit"))
        policy = _params(headers.get("ratelimit-policy"))
        remaining = fields.get("r", fields.get("remaining"))
        reset = fields.get("t", fields.get("reset"))
        limit = policy.get("q", fields.get("limit"))
    return RateLimitHeaders(limit=limit, remaining=remaining, reset=_reset(reset))
