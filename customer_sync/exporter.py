"""The user's exporter entry point: ``DataExporter``.

Keeps the original challenge's names (``export_customers``, ``generate_summary_report``)
on top of the sink package, where the JSON file sink does the atomic, chunked writing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from .models import ProcessCounts, ProcessResult
from .rules import BusinessRules
from .sink.base import Sink, SinkReport
from .sink.json_file import JsonFileSink, lineage_path, rejected_path
from .sink.summary import quality_summary, summary_report, to_frame

__all__ = [
    "DataExporter",
    "JsonFileSink",
    "Sink",
    "SinkReport",
    "format_timestamp",
    "lineage_path",
    "rejected_path",
]

SORT_KEYS = ("full_name", "customer_id")


def format_timestamp(moment: datetime) -> str:
    """UTC, ISO-8601, second precision, with ``Z``: ``2026-11-26T18:41:19Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class DataExporter:
    """Exports analytics-ready customers and summarises them."""

    def __init__(
        self,
        rules: BusinessRules | None = None,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.rules = rules or BusinessRules()
        self._now = now

    def build_metadata(
        self, frame: pl.DataFrame, extra: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """The user's three keys first, in order, then any run metadata."""
        metadata: dict[str, Any] = {
            "total_customers": frame.height,
            "export_timestamp": format_timestamp(self._now()),
            "data_quality_summary": quality_summary(frame, self.rules),
        }
        for key, value in (extra or {}).items():
            metadata.setdefault(key, value)
        return metadata

    def export_customers(
        self,
        customers: ProcessResult | pl.DataFrame | Iterable[Mapping[str, Any]],
        output_file: str | Path,
        *,
        metadata: Mapping[str, Any] | None = None,
        sink: Sink | None = None,
    ) -> SinkReport:
        """Write ``customers`` (sorted by full_name, then customer_id) with metadata.

        A :class:`ProcessResult` comes sorted from the processor and is written as it is;
        a frame or rows are sorted first. Atomic: on failure the previous output is intact.
        """
        result = _as_result(customers)
        target = sink if sink is not None else JsonFileSink(Path(output_file))
        target.check_writable()
        return target.write(result, self.build_metadata(result.frame, metadata))

    def generate_summary_report(
        self, customers: ProcessResult | pl.DataFrame | Iterable[Mapping[str, Any]]
    ) -> dict[str, Any]:
        """Quality bands, counts per engagement, activity, channel, segment and tier, and
        their cross tabs; for a :class:`ProcessResult`, also the run's per-field
        ``data_quality_details`` and ``source_field_coverage`` (the metadata's keys)."""
        report = summary_report(_as_result(customers).frame, self.rules)
        if isinstance(customers, ProcessResult):
            report["data_quality_details"] = customers.quality_details()
            report["source_field_coverage"] = customers.field_coverage()
        return report


def _as_result(
    customers: ProcessResult | pl.DataFrame | Iterable[Mapping[str, Any]],
) -> ProcessResult:
    if isinstance(customers, ProcessResult):
        return customers
    frame = to_frame(customers).sort(list(SORT_KEYS))
    n = frame.height
    return ProcessResult(frame, [], [], ProcessCounts(n, n, 0, 0))
