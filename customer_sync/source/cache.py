"""An HTTP cache of pages across runs, by ETag (``If-None-Match`` and 304).

Why not hishel: its async storage needs ``anysqlite`` (not a dependency here), and it
caches at the transport, *before* the client validates the body. A 200 with a truncated
body would be stored, then served again on every 304: a fault made permanent. This store
keeps a page only after it was decoded and validated, and always revalidates (every
request is conditional), which is exactly what a sync needs.

One JSON file per URL (secrets masked, so no key is ever written to disk), named by the
SHA-256 of that URL, written atomically (:mod:`customer_sync.atomic`) and exactly
(:mod:`customer_sync.jsoncodec`). The directory is private (0700, files 0600),
since pages hold customer data.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .. import atomic, jsoncodec

__all__ = ["CachedPage", "ETagCache", "FileETagCache"]


@dataclass(frozen=True, slots=True)
class CachedPage:
    etag: str
    body: dict[str, Any]


class ETagCache(Protocol):
    def get(self, url: str) -> CachedPage | None: ...

    def put(self, url: str, etag: str, body: dict[str, Any]) -> None: ...


class FileETagCache:
    """An :class:`ETagCache` in a directory. ``url`` must already be masked."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def __repr__(self) -> str:
        return f"FileETagCache({str(self.directory)!r})"

    def _path(self, url: str) -> Path:
        return self.directory / (hashlib.sha256(url.encode()).hexdigest() + ".json")

    def get(self, url: str) -> CachedPage | None:
        """The stored page for ``url``; ``None`` if absent, unreadable or for another URL."""
        try:
            entry = jsoncodec.loads(self._path(url).read_bytes())
        except (OSError, ValueError, RecursionError):
            return None
        if not isinstance(entry, dict) or entry.get("url") != url:
            return None
        etag, body = entry.get("etag"), entry.get("body")
        if not isinstance(etag, str) or not isinstance(body, dict):
            return None
        return CachedPage(etag, body)

    def put(self, url: str, etag: str, body: dict[str, Any]) -> None:
        """Store ``body`` for ``url``. Raises ``OSError`` when the disk refuses."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        data = jsoncodec.dumps_exact({"url": url, "etag": etag, "body": body})
        atomic.write_bytes(self._path(url), data, mode=0o600)
