"""The exporter, the user's entry module: ``from src.exporter import DataExporter``.

The implementation lives in :mod:`customer_sync.exporter`; this module re-exports it.
"""

from __future__ import annotations

from customer_sync.exporter import (
    DataExporter,
    JsonFileSink,
    Sink,
    SinkReport,
    format_timestamp,
    lineage_path,
    rejected_path,
)

__all__ = [
    "DataExporter",
    "JsonFileSink",
    "Sink",
    "SinkReport",
    "format_timestamp",
    "lineage_path",
    "rejected_path",
]
