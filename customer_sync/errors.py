"""One exception hierarchy, grouped by what the caller should do.

    PipelineError                 base; carries a one-line message and an exit code
    ├── ConfigError               bad configuration or usage (exit 2): fix the setting
    ├── SourceError               the API side (exit 1)
    │   ├── RetriableAPIError     worth another attempt: 5xx, 408, 429, timeouts, resets, bad bodies
    │   └── FatalAPIError         never retried: 400, 403, 404, budget exhausted, incomplete sync
    │       ├── AuthError         401/403: check the API key
    │       ├── RetryBudgetExhausted  a page failed after every retry; names page and causes
    │       └── IncompleteSyncError   records missing after paging; never finish silently short
    ├── SinkError                 the output cannot be written (exit 1)
    ├── AccountingError           records in != exported + merged + rejected: a bug (exit 1)
    ├── RequiredFieldsMissing     --require-fields named a field the source left out (exit 1)
    └── InvalidRecord             one bad record; set aside with ``.reason`` and ``.record``,
                                  never crashes a run

Foreign errors (httpx, OSError, pydantic) are translated at the edge with ``raise ... from exc``.
Messages never contain the API key: URLs are masked before they are put into a message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "AccountingError",
    "AuthError",
    "ConfigError",
    "FatalAPIError",
    "IncompleteSyncError",
    "InvalidRecord",
    "PipelineError",
    "RequiredFieldsMissing",
    "RetriableAPIError",
    "RetryBudgetExhausted",
    "SinkError",
    "SourceError",
]


class PipelineError(Exception):
    """Base of every error the pipeline raises on purpose.

    ``str(err)`` is the single line shown to the user: the cause and the fix.
    """

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if hint is None else f"{message} ({hint})")


class ConfigError(PipelineError):
    """A setting or a command-line flag is invalid. Exit code 2."""

    exit_code = 2


class SourceError(PipelineError):
    """Something went wrong talking to the API."""


class RetriableAPIError(SourceError):
    """A failure worth another attempt (5xx, 408, 429, timeout, reset, bad body).

    ``cause`` is a short stable label used in stats and logs, such as ``"http_503"``,
    ``"timeout"``, ``"reset"``, ``"invalid_json"``, ``"rate_limited"``.
    """

    def __init__(
        self,
        message: str,
        *,
        cause: str,
        page: int | None = None,
        status: int | None = None,
        retry_after: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.cause = cause
        self.page = page
        self.status = status
        self.retry_after = retry_after
        self.headers = dict(headers or {})
        super().__init__(message)


class FatalAPIError(SourceError):
    """A failure that another attempt will not fix (400, 403, 404, ...)."""

    def __init__(
        self,
        message: str,
        *,
        page: int | None = None,
        status: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.page = page
        self.status = status
        super().__init__(message, hint=hint)


class AuthError(FatalAPIError):
    """401 or 403: the API refused our credentials."""


class RetryBudgetExhausted(FatalAPIError):
    """A page kept failing after every allowed retry."""

    def __init__(self, message: str, *, page: int | None, causes: Mapping[str, int]) -> None:
        self.causes = dict(causes)
        super().__init__(message, page=page)


class IncompleteSyncError(FatalAPIError):
    """Paging finished but records are missing compared with what the API reported."""


class SinkError(PipelineError):
    """The output cannot be written (missing directory, permissions, disk full)."""


class AccountingError(PipelineError):
    """Records in != exported + merged + rejected. Always a bug, never bad data."""


class RequiredFieldsMissing(PipelineError):
    """A field named by ``--require-fields`` is absent from most records. Nothing is written."""


class InvalidRecord(PipelineError):
    """One raw record cannot be used. It is set aside with its reason, never exported."""

    def __init__(self, reason: str, record: Any) -> None:
        self.reason = reason
        self.record = record
        super().__init__(reason)
