"""The page store: where a checkpoint plugs into the fetch loop.

At the start of a sync the loop calls ``begin()`` with what identifies the data set
(the masked base URL, ``per_page`` and the ``total`` the API reports now); a store that
holds pages of another sync forgets them there. Then every page the loop needs is first
looked up with ``load()``: a stored body is used as is (``Page.from_checkpoint=True``)
and not fetched. Every page fetched from the API is handed to ``save()``, with the bytes
it was decoded from when it came from the network (``content``): a store that writes
bytes keeps those rather than encoding the body again, and ``jsoncodec.loads`` of them
gives the body back exactly.

Page 1 is always fetched, since it tells the current ``total`` that ``begin()`` needs, and
the drift re-check passes always go to the API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["InMemoryPageStore", "PageStore", "StoreIdentity"]


@dataclass(frozen=True, slots=True)
class StoreIdentity:
    """What a stored page must match to be reused. ``base_url`` has its secrets masked."""

    base_url: str
    per_page: int
    total: int | None


class PageStore(Protocol):
    def begin(self, identity: StoreIdentity) -> None:
        """Called once per sync, before any ``load``: drop pages of another identity."""
        ...

    def load(self, page: int) -> dict[str, Any] | None:
        """The raw body saved for ``page``, or ``None``."""
        ...

    def save(self, page: int, body: dict[str, Any], *, content: bytes | None = None) -> None:
        """Keep the raw body of ``page`` (as the API sent it: ``content``, when known)."""
        ...


@dataclass
class InMemoryPageStore:
    """A :class:`PageStore` in a dict, for tests and as the reference implementation."""

    pages: dict[int, dict[str, Any]] = field(default_factory=dict)
    identity: StoreIdentity | None = None

    def begin(self, identity: StoreIdentity) -> None:
        if self.identity is not None and self.identity != identity:
            self.pages.clear()
        self.identity = identity

    def load(self, page: int) -> dict[str, Any] | None:
        return self.pages.get(page)

    def save(self, page: int, body: dict[str, Any], *, content: bytes | None = None) -> None:
        self.pages[page] = body
