"""The sink interface. JSON file today; DuckDB, PostgreSQL and Parquet slot in behind it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..models import ProcessResult

__all__ = ["Sink", "SinkReport"]


@dataclass(frozen=True, slots=True)
class SinkReport:
    """Where a sink put things: the main target and any side files, by role."""

    target: str
    side_files: Mapping[str, str] = field(default_factory=dict)
    bytes_written: int = 0
    metadata: Mapping[str, Any] = field(default_factory=dict)  # as written (run id stamped)


class Sink(Protocol):
    """Writes one run's result. Must be all-or-nothing: a failure leaves the old data
    (the stdout sink of ``--output -`` is the one documented exception)."""

    def check_writable(self) -> None:
        """Raise :class:`~customer_sync.errors.SinkError` now, before fetching, if writing fails."""

    def write(self, result: ProcessResult, metadata: Mapping[str, Any]) -> SinkReport:
        """Persist ``result`` with ``metadata``."""
