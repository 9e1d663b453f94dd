"""The client's settings: one frozen, validated object.

``CustomerAPIClient(base_url, api_key=None, **settings)`` maps its keyword arguments
onto :class:`ClientSettings`; every field is documented in ``docs/client.md``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import ConfigError

__all__ = ["DEFAULT_USER_AGENT", "ClientSettings"]

DEFAULT_USER_AGENT = f"customer-sync-pipeline/{__version__}"


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """Every knob of the API client. Defaults follow the user's spec (issue #3)."""

    per_page: int = 6
    concurrency: int = 8
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    pool_timeout: float = 30.0
    max_retries: int = 3
    backoff_base: float = 1.0
    backoff_factor: float = 2.0
    backoff_max: float = 30.0
    jitter: float = 0.1
    retry_after_cap: float = 60.0
    rate_limit_wait_budget: float = 300.0
    rate_limit: float | None = None
    rate_limit_burst: int = 1
    max_pages: int = 100_000
    max_drift_passes: int = 3
    max_redirects: int = 5
    cache_dir: Path | None = None
    verify: bool = True
    user_agent: str = DEFAULT_USER_AGENT

    def __post_init__(self) -> None:
        for name in ("per_page", "concurrency", "max_pages", "rate_limit_burst"):
            _check(name, getattr(self, name), minimum=1, integer=True)
        for name in ("max_retries", "max_drift_passes", "max_redirects"):
            _check(name, getattr(self, name), minimum=0, integer=True)
        non_negative = (
            "backoff_base",
            "backoff_max",
            "jitter",
            "retry_after_cap",
            "rate_limit_wait_budget",
        )
        for name in non_negative:
            _check(name, getattr(self, name), minimum=0)
        for name in ("connect_timeout", "read_timeout", "pool_timeout"):
            _check(name, getattr(self, name), minimum=0, exclusive=True)
        _check("backoff_factor", self.backoff_factor, minimum=1)
        if self.rate_limit is not None:
            _check("rate_limit", self.rate_limit, minimum=0, exclusive=True)
        cache_dir: object = self.cache_dir
        if isinstance(cache_dir, str):
            object.__setattr__(self, "cache_dir", Path(cache_dir))
        elif cache_dir is not None and not isinstance(cache_dir, Path):
            raise ConfigError(f"cache_dir must be a path, got {cache_dir!r}")
        verify: object = self.verify
        if not isinstance(verify, bool):
            raise ConfigError(f"verify must be true or false, got {verify!r}")
        user_agent: object = self.user_agent
        if not isinstance(user_agent, str) or not user_agent.strip() or "\n" in user_agent:
            raise ConfigError("user_agent must be a non-empty, single-line string")

    @classmethod
    def from_kwargs(cls, settings: dict[str, Any]) -> ClientSettings:
        """Build from keyword arguments, refusing unknown names with one clear line."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise ConfigError(
                f"unknown client setting(s): {', '.join(unknown)}",
                hint=f"known settings: {', '.join(sorted(known))}",
            )
        return cls(**settings)


def _check(
    name: str, value: object, *, minimum: float, exclusive: bool = False, integer: bool = False
) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (integer and not isinstance(value, int))
    ):
        kind = "an integer" if integer else "a number"
        raise ConfigError(f"{name} must be {kind}, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ConfigError(f"{name} must be finite, got {value!r}")
    too_small = number <= minimum if exclusive else number < minimum
    if too_small:
        relation = ">" if exclusive else ">="
        raise ConfigError(f"{name} must be {relation} {minimum}, got {value!r}")
