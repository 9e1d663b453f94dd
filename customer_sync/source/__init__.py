"""The source: the API client that fetches every customer record (issue #3).

``CustomerAPIClient`` is the entry point; ``ClientSettings`` its settings; ``PageStore``
the seam a checkpoint plugs into; ``Paginator`` the pagination strategy protocol.
"""

from __future__ import annotations

from .cache import CachedPage, ETagCache, FileETagCache
from .client import CustomerAPIClient
from .page_store import InMemoryPageStore, PageStore, StoreIdentity
from .pagination import PageNumberPaginator, PageRequest, Paginator, ReceivedPage
from .ratelimit import AdaptiveRateLimiter
from .retry import compute_backoff, parse_retry_after
from .settings import DEFAULT_USER_AGENT, ClientSettings

__all__ = [
    "DEFAULT_USER_AGENT",
    "AdaptiveRateLimiter",
    "CachedPage",
    "ClientSettings",
    "CustomerAPIClient",
    "ETagCache",
    "FileETagCache",
    "InMemoryPageStore",
    "PageNumberPaginator",
    "PageRequest",
    "PageStore",
    "Paginator",
    "ReceivedPage",
    "StoreIdentity",
    "compute_backoff",
    "parse_retry_after",
]
