"""Data shapes shared by source, transform and sink.

Pure data: no I/O, no behaviour beyond small derived properties.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypedDict

if TYPE_CHECKING:  # the CLI's --help imports this module and must not load Polars
    import polars as pl

__all__ = [
    "CUSTOMER_FIELDS",
    "Customer",
    "Event",
    "Merge",
    "Page",
    "ProcessCounts",
    "ProcessResult",
    "Rejection",
    "RunStats",
]


class Customer(TypedDict):
    """One exported, analytics-ready customer. Keys in exactly this order."""

    customer_id: int
    full_name: str
    email_domain: str
    engagement_level: str
    activity_status: str
    acquisition_channel: str
    market_segment: str
    customer_tier: str
    data_quality_score: int


CUSTOMER_FIELDS: tuple[str, ...] = tuple(Customer.__annotations__)

@dataclass(frozen=True, slots=True)
class Rejection:
    """A raw record set aside, with the reason it could not be used."""

    reason: str
    record: Any
    position: int  # 0-based index of the record in the input stream


MergeReason = Literal["same_id", "same_email"]


@dataclass(frozen=True, slots=True)
class Merge:
    """One duplicate folded into a survivor.

    ``reason`` says how the duplicate was linked to its group: the same ``customer_id``
    or the same normalized email. ``position`` is the merged record's index in the input.
    """

    survivor_id: int
    merged_id: int
    reason: MergeReason
    position: int


@dataclass(frozen=True, slots=True)
class ProcessCounts:
    records_in: int
    exported: int
    duplicates_merged: int
    rejected: int

    @property
    def balanced(self) -> bool:
        """The accounting identity: records in = exported + merged + rejected."""
        return self.records_in == self.exported + self.duplicates_merged + self.rejected


@dataclass(frozen=True, slots=True)
class ProcessResult:
    """What the transform produced.

    ``frame`` holds the exported customers with :data:`CUSTOMER_SCHEMA`, sorted by
    ``full_name`` then ``customer_id``. ``customers`` gives the same rows as dicts.
    """

    frame: pl.DataFrame
    rejected: list[Rejection]
    merges: list[Merge]
    counts: ProcessCounts

    @property
    def customers(self) -> list[dict[str, Any]]:
        return self.frame.to_dicts()


@dataclass(frozen=True, slots=True)
class Page:
    """One page of raw records as the source received it."""

    number: int
    records: list[Any]
    total: int | None = None
    total_pages: int | None = None
    from_cache: bool = False
    from_checkpoint: bool = False


@dataclass(slots=True)
class RunStats:
    """Counters from one sync, reported in the summary and the output metadata."""

    pages: int = 0
    requests: int = 0
    records: int = 0
    retries: Counter[str] = field(default_factory=Counter)  # by cause
    rate_limited: int = 0  # 429 answers
    waited_seconds: float = 0.0
    bytes_received: int = 0
    duration_seconds: float = 0.0
    cache_hits: int = 0
    pages_from_checkpoint: int = 0
    resumed: bool = False
    drift_detected: bool = False
    drift_events: list[str] = field(default_factory=list)
    refetched_pages: int = 0
    reported_total: int | None = None
    reported_total_pages: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "pages": self.pages,
            "requests": self.requests,
            "records": self.records,
            "retries": dict(sorted(self.retries.items())),
            "retries_total": sum(self.retries.values()),
            "rate_limited": self.rate_limited,
            "waited_seconds": round(self.waited_seconds, 3),
            "bytes_received": self.bytes_received,
            "duration_seconds": round(self.duration_seconds, 3),
            "cache_hits": self.cache_hits,
            "pages_from_checkpoint": self.pages_from_checkpoint,
            "resumed": self.resumed,
            "drift_detected": self.drift_detected,
            "drift_events": list(self.drift_events),
            "refetched_pages": self.refetched_pages,
            "reported_total": self.reported_total,
            "reported_total_pages": self.reported_total_pages,
        }


@dataclass(frozen=True, slots=True)
class Event:
    """A structured event observed by hooks (logging, progress, metrics).

    ``at`` is the injected clock's reading (seconds); ``fields`` never hold secrets.
    """

    name: str
    at: float
    fields: Mapping[str, Any] = field(default_factory=dict)
