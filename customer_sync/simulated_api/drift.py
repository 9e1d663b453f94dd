"""Page drift: records inserted or deleted between page requests, as on a live API.

With page-number pagination a record inserted before the page a client is on pushes
one already-fetched record onto the next page (the client sees it twice), and a record
deleted before that page pulls one not-yet-fetched record back onto an earlier page
(the client misses it unless it re-fetches). The view keeps only the list of events and
maps a visible position to a dataset index with ``bisect``, so it stays lazy.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right, insort

from .config import DriftMode
from .dataset import Dataset, Record, usable_id
from .randomness import mix

__all__ = ["DriftView"]

_SALT_DRIFT = 0x44524946


class DriftView:
    """The dataset as the API currently shows it, after any drift events."""

    def __init__(
        self,
        dataset: Dataset,
        *,
        mode: DriftMode = "none",
        every: int = 3,
        max_events: int | None = None,
        seed: int = 0,
    ) -> None:
        self.dataset = dataset
        self.mode: DriftMode = mode
        self._every = every
        self._max_events = max_events
        self._seed = seed
        self._lock = threading.Lock()
        self._page_requests = 0
        self._events: list[tuple[str, int, int | None]] = []  # (mode, position, id)
        self._deleted: list[int] = []  # sorted dataset indices
        self._inserted_at: list[int] = []  # sorted visible positions of inserted records
        self._inserted: list[Record] = []  # records, parallel to _inserted_at
        self._signups = 0

    def __len__(self) -> int:
        return len(self.dataset) - len(self._deleted) + len(self._inserted)

    @property
    def events(self) -> list[tuple[str, int, int | None]]:
        """Drift events so far, as ``(mode, visible position, record id)``."""
        with self._lock:
            return list(self._events)

    def on_page_request(self, start: int) -> tuple[str, int, int | None] | None:
        """Count one page request starting at visible position ``start``.

        Every ``every``-th request inserts or deletes one record at a position before
        ``start`` (never on page 1, which has nothing before it). Returns the event.
        """
        if self.mode == "none":
            return None
        with self._lock:
            self._page_requests += 1
            if self._page_requests % self._every:
                return None
            if self._max_events is not None and len(self._events) >= self._max_events:
                return None
            limit = min(start, len(self))
            if limit <= 0:
                return None
            position = mix(self._seed, _SALT_DRIFT, len(self._events)) % limit
            event = self._insert(position) if self.mode == "insert" else self._delete(position)
            self._events.append(event)
            return event

    def _insert(self, position: int) -> tuple[str, int, int | None]:
        record = self.dataset.new_record(self._signups)
        self._signups += 1
        at = bisect_left(self._inserted_at, position)
        for k in range(at, len(self._inserted_at)):
            self._inserted_at[k] += 1
        self._inserted_at.insert(at, position)
        self._inserted.insert(at, record)
        return ("insert", position, usable_id(record.get("id")))

    def _delete(self, position: int) -> tuple[str, int, int | None]:
        # Only dataset records are deleted in this mode (insert and delete never mix).
        index = self._index_of(position)
        record_id = usable_id(self.dataset.record(index).get("id"))
        insort(self._deleted, index)
        return ("delete", position, record_id)

    def _index_of(self, position: int) -> int:
        """The dataset index shown at visible ``position`` when nothing was inserted."""
        index = position
        while True:
            shifted = position + bisect_right(self._deleted, index)
            if shifted == index:
                return index
            index = shifted

    def records(self, start: int, stop: int) -> list[Record]:
        """The records at visible positions ``start <= p < stop``."""
        with self._lock:
            stop = min(stop, len(self))
            if self.mode == "none" or not self._events:
                return [self.dataset.record(i) for i in range(start, stop)]
            return [self._record_at(p) for p in range(start, stop)]

    def _record_at(self, position: int) -> Record:
        if self._inserted_at:
            at = bisect_left(self._inserted_at, position)
            if at < len(self._inserted_at) and self._inserted_at[at] == position:
                return dict(self._inserted[at])
            return self.dataset.record(position - at)
        return self.dataset.record(self._index_of(position))

    def find(self, user_id: int) -> Record | None:
        """The record ``GET /users/{id}`` shows, honouring inserts and deletes."""
        with self._lock:
            for record in self._inserted:
                if usable_id(record.get("id")) == user_id:
                    return dict(record)
            found = self.dataset.find(user_id)
            if found is None or not self._deleted:
                return found
            deleted_ids = {usable_id(self.dataset.record(i).get("id")) for i in self._deleted}
            return None if user_id in deleted_ids else found
