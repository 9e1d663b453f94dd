"""The API client, the user's entry module: ``from src.api_client import CustomerAPIClient``.

The implementation lives in :mod:`customer_sync.source`; this module re-exports it.
"""

from __future__ import annotations

from customer_sync.source import (
    DEFAULT_USER_AGENT,
    ClientSettings,
    CustomerAPIClient,
    InMemoryPageStore,
    PageNumberPaginator,
    PageRequest,
    PageStore,
    Paginator,
    ReceivedPage,
    StoreIdentity,
)

__all__ = [
    "DEFAULT_USER_AGENT",
    "ClientSettings",
    "CustomerAPIClient",
    "InMemoryPageStore",
    "PageNumberPaginator",
    "PageRequest",
    "PageStore",
    "Paginator",
    "ReceivedPage",
    "StoreIdentity",
]
