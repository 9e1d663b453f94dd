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
    "CANONICAL_FIELDS",
    "CUSTOMER_FIELDS",
    "QUALITY_BANDS",
    "SCORED_FIELDS",
    "SOURCE_FIELDS",
    "Customer",
    "DataQuality",
    "Event",
    "FieldQuality",
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

#: The raw fields the transform reads from a source record (docs/business_rules.md).
SOURCE_FIELDS: tuple[str, ...] = (
    "id",
    "first_name",
    "last_name",
    "email",
    "created_at",
    "last_login_at",
    "updated_at",
    "sessions_30d",
    "orders_count",
    "lifetime_value",
    "signup_source",
    "country",
    "region",
    "plan",
)
#: The fields the data quality score counts, in a fixed order.
SCORED_FIELDS: tuple[str, ...] = (
    "email",
    "first_name",
    "last_name",
    "created_at",
    "last_login_at",
    "sessions_30d",
    "orders_count",
    "lifetime_value",
    "signup_source",
    "country",
    "region",
)
#: The bands of a data quality score, best first.
QUALITY_BANDS: tuple[str, ...] = ("high", "medium", "low")
#: Columns of ``ProcessResult.canonical`` (its Polars schema is ``frames.CANONICAL_SCHEMA``).
CANONICAL_FIELDS: tuple[str, ...] = (
    "customer_id",
    "email",
    "first_name",
    "last_name",
    "country",
    "region",
    "plan",
    "lifetime_value",
    "sessions_30d",
    "orders_count",
    "signup_source",
    "created_at",
    "last_login_at",
    "updated_at",
    "data_quality_band",
    "quality_issues",
)


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
    #: Records of a pass that a drift re-walk replaced (the source's data changed while
    #: it was read; the last, agreeing pass is the customer set): set aside, not merged.
    replaced_by_rewalk: int = 0

    @property
    def balanced(self) -> bool:
        """The accounting identity: records in = exported + merged + rejected (+ the
        records of a pass a re-walk replaced)."""
        return self.records_in == (
            self.exported + self.duplicates_merged + self.rejected + self.replaced_by_rewalk
        )


@dataclass(frozen=True, slots=True)
class FieldQuality:
    """How one scored field fared over the exported customers.

    ``present``: a usable value; ``missing``: the key absent or JSON null; ``invalid``:
    sent but unusable. The three add up to the customers the field is scored for (every
    exported customer; for ``region``, the US customers only).
    """

    present: int
    missing: int
    invalid: int

    def as_dict(self) -> dict[str, int]:
        return {"present": self.present, "missing": self.missing, "invalid": self.invalid}


@dataclass(frozen=True, slots=True)
class DataQuality:
    """Per-field data quality of one run, computed by the processor as it streams.

    ``fields``: each of :data:`SCORED_FIELDS`, over the exported customers.
    ``distributions``: for each derived field (and ``data_quality_band``), the exported
    customers per value, every allowed value listed. ``score_histogram``: customers per
    score bin, ``"0-9"`` ... ``"80-89"``, ``"90-100"``. ``rejection_reasons``: rejected
    records per reason code, most frequent first. ``records_seen``: the dict records in
    (before deduplication and rejection); ``keys_seen``: for each of
    :data:`SOURCE_FIELDS`, how many of them carried the key at all, null or not.
    """

    fields: Mapping[str, FieldQuality] = field(default_factory=dict)
    distributions: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    score_histogram: Mapping[str, int] = field(default_factory=dict)
    rejection_reasons: Mapping[str, int] = field(default_factory=dict)
    records_seen: int = 0
    keys_seen: Mapping[str, int] = field(default_factory=dict)

    def details(self) -> dict[str, Any]:
        """A JSON-ready copy: the output metadata's ``data_quality_details``."""
        return {
            "fields": {name: quality.as_dict() for name, quality in self.fields.items()},
            "distributions": {name: dict(counts) for name, counts in self.distributions.items()},
            "score_histogram": dict(self.score_histogram),
            "rejection_reasons": dict(self.rejection_reasons),
        }

    def coverage(self) -> dict[str, float]:
        """Per source field, the share of dict records that carried the key (0..1, 4
        decimals): the output metadata's ``source_field_coverage``. 0.0 with no records."""
        seen = self.records_seen
        return {
            name: round(count / seen, 4) if seen else 0.0 for name, count in self.keys_seen.items()
        }


@dataclass(frozen=True, slots=True)
class ProcessResult:
    """What the transform produced.

    ``frame`` holds the exported customers with :data:`CUSTOMER_SCHEMA`, sorted by
    ``full_name`` then ``customer_id``. ``customers`` gives the same rows as dicts.
    ``canonical`` holds the same customers in the same order with their cleaned canonical
    values (``frames.CANONICAL_SCHEMA``); it is None only for a result built by hand
    around a bare frame. ``quality`` is the run's per-field data quality.
    """

    frame: pl.DataFrame
    rejected: list[Rejection]
    merges: list[Merge]
    counts: ProcessCounts
    canonical: pl.DataFrame | None = None
    quality: DataQuality = field(default_factory=DataQuality)

    @property
    def customers(self) -> list[dict[str, Any]]:
        return self.frame.to_dicts()

    def quality_details(self) -> dict[str, Any]:
        """The metadata's ``data_quality_details`` (see :meth:`DataQuality.details`)."""
        return self.quality.details()

    def field_coverage(self) -> dict[str, float]:
        """The metadata's ``source_field_coverage`` (see :meth:`DataQuality.coverage`)."""
        return self.quality.coverage()


@dataclass(frozen=True, slots=True)
class Page:
    """One page of raw records as the source received it."""

    number: int
    records: list[Any]
    total: int | None = None
    total_pages: int | None = None
    from_cache: bool = False
    from_checkpoint: bool = False
    #: The walk over the pages it belongs to: 0, then 1, 2, ... for the re-walks a drift
    #: signal starts (a later pass replaces the earlier ones; see ``source/sync.py``).
    pass_number: int = 0


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
    hedged: int = 0  # requests sent twice because the first was slow to answer
    reported_total: int | None = None
    reported_total_pages: int | None = None
    per_page: int | None = None  # the page size the API granted
    paging_note: str | None = None  # e.g. inflated total_pages: what was not walked, and why

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
            "hedged": self.hedged,
            "reported_total": self.reported_total,
            "reported_total_pages": self.reported_total_pages,
            "per_page": self.per_page,
            "paging_note": self.paging_note,
        }


@dataclass(frozen=True, slots=True)
class Event:
    """A structured event observed by hooks (logging, progress, metrics).

    ``at`` is the injected clock's reading (seconds); ``fields`` never hold secrets.
    """

    name: str
    at: float
    fields: Mapping[str, Any] = field(default_factory=dict)
