"""Shared data shapes, the user's entry module: ``from src.models import Customer``.

The implementation lives in :mod:`customer_sync.models` (and the Polars frame schema in
:mod:`customer_sync.frames`); this module re-exports them.
"""

from __future__ import annotations

from customer_sync.frames import CUSTOMER_SCHEMA
from customer_sync.models import (
    CUSTOMER_FIELDS,
    Customer,
    Event,
    Merge,
    Page,
    ProcessCounts,
    ProcessResult,
    Rejection,
    RunStats,
)

__all__ = [
    "CUSTOMER_FIELDS",
    "CUSTOMER_SCHEMA",
    "Customer",
    "Event",
    "Merge",
    "Page",
    "ProcessCounts",
    "ProcessResult",
    "Rejection",
    "RunStats",
]
