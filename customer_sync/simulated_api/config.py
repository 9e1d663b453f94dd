"""The simulator's one configuration object, frozen and validated on creation."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Literal

from ..errors import ConfigError

__all__ = [
    "DRIFT_MODES",
    "FAULT_KINDS",
    "OVER_MAX_MODES",
    "RATE_HEADER_STYLES",
    "AsyncSleep",
    "Clock",
    "DriftMode",
    "SimulatorConfig",
]

#: Every fault the simulator can inject, in the order the CLI lists them.
#: ``5xx``: 500/502/503/504 with a JSON or HTML body. ``429``: Too Many Requests with
#: Retry-After. ``reset``: the connection is closed with no answer. ``reset_mid_body``:
#: headers and part of the body, then the connection is closed. ``truncated``: 200 whose
#: JSON body is cut short. ``invalid_json``: 200 whose body is not JSON. ``stall``: the
#: answer comes only after ``stall_seconds``.
FAULT_KINDS: Final = (
    "5xx",
    "429",
    "reset",
    "reset_mid_body",
    "truncated",
    "invalid_json",
    "stall",
)

DriftMode = Literal["none", "insert", "delete"]
DRIFT_MODES: Final[tuple[DriftMode, ...]] = ("none", "insert", "delete")

#: How the rate limit shows: ``x`` ``X-RateLimit-*``; ``ietf`` the draft's
#: ``RateLimit-Limit/Remaining/Reset``; ``structured`` the draft's ``RateLimit`` and
#: ``RateLimit-Policy`` fields; ``none`` no rate-limit header at all, and 429s carry only a
#: ``Retry-After`` in a mix of forms (seconds, HTTP-date, decimal, missing, garbage).
RateHeaderStyle = Literal["x", "ietf", "structured", "none"]
RATE_HEADER_STYLES: Final[tuple[RateHeaderStyle, ...]] = ("x", "ietf", "structured", "none")
#: A ``per_page`` above ``max_per_page``: ``cap`` it silently (reqres), or ``reject`` (400).
OverMaxMode = Literal["cap", "reject"]
OVER_MAX_MODES: Final[tuple[OverMaxMode, ...]] = ("cap", "reject")

Clock = Callable[[], float]
AsyncSleep = Callable[[float], Awaitable[None]]


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message, hint="fix the simulator setting")


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulatorConfig:
    """Everything that shapes what the simulated API serves and how it misbehaves.

    ``customers=None`` serves the 12-user demo dataset plus its problem records; an
    integer serves a lazily generated dataset of that size. ``clock`` (monotonic
    seconds, token bucket), ``wall_clock`` (epoch seconds, HTTP-date Retry-After),
    ``sleep`` (async, latency and stalls) and ``now`` (the moment the dataset's
    timestamps are relative to) default to the real ones when left ``None``.

    ``incremental_param`` (``?updated_since=``) filters on ``cursor_field``, unless
    ``ignore_incremental_param`` plays an API that ignores it. ``change_*`` changes that
    many customers when the app is created and, with ``change_every=N``, again every N
    list requests (changes during a sync). Changes are stamped with ``wall_clock``.
    """

    # data
    customers: int | None = None
    seed: int = 0
    duplicate_rate: float = 0.02
    bad_record_rate: float = 0.01
    # paging
    base_path: str = "/api"
    default_per_page: int = 6
    max_per_page: int = 100
    over_max_per_page: OverMaxMode = "cap"
    claimed_total_pages: int | None = None  # inflated totals: report this many pages
    # hostile bodies (list pages): padded with whitespace to this many extra bytes,
    # gzip-compressed, or trickled over this many seconds; or the status line and header
    # lines sent one at a time over ``slow_headers_seconds`` (then the plain body); only
    # for the first ``hostile_attempts`` requests of each page when set
    body_padding_bytes: int = 0
    gzip_bodies: bool = False
    slow_body_seconds: float = 0.0
    slow_headers_seconds: float = 0.0
    hostile_attempts: int | None = None
    # faults
    fault_rate: float = 0.2
    fault_kinds: tuple[str, ...] = ("5xx",)
    error_statuses: tuple[int, ...] = (500, 502, 503, 504)
    max_consecutive_failures: int | None = 3
    retry_after_seconds: int = 1
    stall_seconds: float = 20.0
    # rate limit (token bucket); rate_limit=0 means unlimited
    rate_limit: float = 0.0
    burst: int = 10
    rate_limit_headers: RateHeaderStyle = "x"
    # latency
    latency_ms: float = 0.0
    latency_jitter: float = 0.0
    # auth; repr=False keeps the key out of logs and tracebacks
    api_key: str | None = field(default=None, repr=False)
    # page drift
    drift: DriftMode = "none"
    drift_every: int = 3
    drift_max_events: int | None = None
    # incremental contract and changing data (see changes.py)
    incremental_param: str = "updated_since"
    cursor_field: str = "updated_at"
    ignore_incremental_param: bool = False
    change_update: int = 0
    change_insert: int = 0
    change_delete: int = 0
    change_tie: int = 0
    change_every: int = 0
    # injectable edges
    clock: Clock | None = field(default=None, compare=False)
    wall_clock: Clock | None = field(default=None, compare=False)
    sleep: AsyncSleep | None = field(default=None, compare=False)
    now: datetime | None = None

    def __post_init__(self) -> None:
        _check(
            self.customers is None or self.customers >= 0,
            f"customers must be >= 0, got {self.customers}",
        )
        for name in ("duplicate_rate", "bad_record_rate", "fault_rate"):
            value = getattr(self, name)
            _check(0.0 <= value <= 1.0, f"{name} must be between 0 and 1, got {value}")
        _check(
            self.duplicate_rate + self.bad_record_rate <= 1.0,
            "duplicate_rate + bad_record_rate must be at most 1",
        )
        _check(
            self.base_path == ""
            or (self.base_path.startswith("/") and not self.base_path.endswith("/")),
            f"base_path must be empty or look like '/api', got {self.base_path!r}",
        )
        _check(self.max_per_page >= 1, f"max_per_page must be >= 1, got {self.max_per_page}")
        _check(
            self.default_per_page >= 1,
            f"default_per_page must be >= 1, got {self.default_per_page}",
        )
        unknown = sorted(set(self.fault_kinds) - set(FAULT_KINDS))
        _check(not unknown, f"unknown fault kinds {unknown}; choose from {', '.join(FAULT_KINDS)}")
        _check(
            self.fault_rate == 0.0 or bool(self.fault_kinds),
            "fault_kinds must not be empty when fault_rate > 0",
        )
        _check(
            bool(self.error_statuses) and all(500 <= s <= 599 for s in self.error_statuses),
            f"error_statuses must be 5xx codes, got {self.error_statuses}",
        )
        _check(
            self.max_consecutive_failures is None or self.max_consecutive_failures >= 1,
            "max_consecutive_failures must be >= 1 (or None for no cap)",
        )
        _check(self.retry_after_seconds >= 0, "retry_after_seconds must be >= 0")
        _check(
            math.isfinite(self.stall_seconds) and self.stall_seconds >= 0,
            "stall_seconds must be >= 0",
        )
        _check(
            math.isfinite(self.rate_limit) and self.rate_limit >= 0,
            "rate_limit must be >= 0 (0 = unlimited)",
        )
        _check(self.burst >= 1, f"burst must be >= 1, got {self.burst}")
        _check(
            self.rate_limit_headers in RATE_HEADER_STYLES,
            f"rate_limit_headers must be one of {', '.join(RATE_HEADER_STYLES)}",
        )
        _check(
            self.over_max_per_page in OVER_MAX_MODES,
            f"over_max_per_page must be one of {', '.join(OVER_MAX_MODES)}",
        )
        _check(
            self.claimed_total_pages is None or self.claimed_total_pages >= 0,
            "claimed_total_pages must be >= 0",
        )
        _check(self.body_padding_bytes >= 0, "body_padding_bytes must be >= 0")
        _check(
            math.isfinite(self.slow_body_seconds) and self.slow_body_seconds >= 0,
            "slow_body_seconds must be >= 0",
        )
        _check(
            math.isfinite(self.slow_headers_seconds) and self.slow_headers_seconds >= 0,
            "slow_headers_seconds must be >= 0",
        )
        _check(
            self.hostile_attempts is None or self.hostile_attempts >= 1,
            "hostile_attempts must be >= 1 (or None for every request)",
        )
        _check(self.latency_ms >= 0, f"latency_ms must be >= 0, got {self.latency_ms}")
        _check(0.0 <= self.latency_jitter <= 1.0, "latency_jitter must be between 0 and 1")
        _check(self.drift in DRIFT_MODES, f"drift must be one of {', '.join(DRIFT_MODES)}")
        _check(self.drift_every >= 1, f"drift_every must be >= 1, got {self.drift_every}")
        _check(
            self.drift_max_events is None or self.drift_max_events >= 0,
            "drift_max_events must be >= 0 (or None for no cap)",
        )
        _check(self.api_key is None or self.api_key != "", "api_key must not be empty")
        _check(
            bool(self.incremental_param.strip()) and bool(self.cursor_field.strip()),
            "incremental_param and cursor_field must not be empty",
        )
        for name in ("change_update", "change_insert", "change_delete", "change_tie"):
            value = getattr(self, name)
            _check(value >= 0, f"{name} must be >= 0, got {value}")
        _check(self.change_every >= 0, f"change_every must be >= 0, got {self.change_every}")

    @property
    def change_batch(self) -> dict[str, int]:
        """The changes applied at start (and every ``change_every`` list requests)."""
        return {
            "update": self.change_update,
            "insert": self.change_insert,
            "delete": self.change_delete,
            "tie": self.change_tie,
        }

    @property
    def hostile_bodies(self) -> bool:
        return bool(
            self.body_padding_bytes
            or self.gzip_bodies
            or self.slow_body_seconds
            or self.slow_headers_seconds
        )

    @property
    def faults_enabled(self) -> bool:
        return self.fault_rate > 0.0 and bool(self.fault_kinds)
