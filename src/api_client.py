"""The API client (issue #3): the user's entry module.

The implementation lives in the :mod:`src.source` package; this module re-exports its
public surface so that ``from src.api_client import CustomerAPIClient`` keeps working.
"""

from __future__ import annotations

from .source import (
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
