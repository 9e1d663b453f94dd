"""Data that changes: updates, inserts, deletes, ties, and the ``updated_since`` filter.

The generated and demo datasets are read-only and lazy. :class:`LiveData` puts a thin
layer of changes over one: records updated (a new dict, ``updated_at`` = the simulator's
wall clock), records inserted (at the end of the natural order) and records deleted. It
stays idle, and costs nothing, until a change is made or a request carries the
incremental parameter.

The incremental contract (``docs/simulated_api.md``):

* ``GET /users?...&updated_since=ISO`` returns only records whose cursor field
  (``updated_at``) is ``>= updated_since`` (inclusive), ordered by ``(updated_at, id)``;
  ``total``/``total_pages`` count that filtered set.
* The cursor of a record is its ``updated_at`` read in every spelling the API uses; a
  record whose ``updated_at`` is missing or unreadable has no cursor and is never in a
  filtered answer (it has not changed since anything).
* Without the parameter the natural order is kept: the dataset's records with deleted
  ones left out and inserted ones at the end.

Changes act on customers by id: an update or a delete touches every row with that id
(an exact duplicate row is the same customer served twice, and stays its exact copy).
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .dataset import Dataset, Record, usable_id
from .randomness import mix

__all__ = ["ChangeError", "ChangeResult", "LiveData", "cursor_micros", "format_cursor"]

_SALT_PICK = 0x5049434B
_SALT_VALUE = 0x56414C55
_EPOCH_MS_THRESHOLD = 10**11


class ChangeError(ValueError):
    """A change request the simulator refuses (answered with 400)."""


def cursor_micros(value: Any) -> int | None:
    """A cursor value (ISO-8601, a date, epoch seconds or milliseconds) in UTC microseconds.

    Naive times are UTC. Anything else (missing, garbled, bool) has no cursor: ``None``.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = str(value).strip()
        if not text:
            return None
        try:
            number = float(text) if text.lstrip("-").isdigit() else float("nan")
        except ValueError:  # pragma: no cover - isdigit guards it
            number = float("nan")
        if number != number:  # not a plain number: ISO-8601
            try:
                moment = datetime.fromisoformat(text.replace(" ", "T", 1))
            except ValueError:
                return None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return _micros(moment)
    if abs(number) > _EPOCH_MS_THRESHOLD:
        number /= 1000.0
    try:
        return round(number * 1_000_000)
    except (OverflowError, ValueError):
        return None


def _micros(moment: datetime) -> int:
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def format_cursor(epoch_seconds: float) -> str:
    """How the API spells the ``updated_at`` of a record it changes: ISO-8601 UTC, ms."""
    moment = datetime.fromtimestamp(epoch_seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True, slots=True)
class ChangeResult:
    """What one batch of changes did, by customer id (the admin endpoint's answer)."""

    updated_at: str
    updated: list[int] = field(default_factory=list)
    inserted: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    tied: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "updated_at": self.updated_at,
            "updated": self.updated,
            "inserted": self.inserted,
            "deleted": self.deleted,
            "tied": self.tied,
        }


def _id_order(record: Record) -> tuple[int, int, str]:
    """The id part of the ``(updated_at, id)`` order: usable ids numerically, then the rest."""
    number = usable_id(record.get("id"))
    if number is not None:
        return (0, number, "")
    return (1, 0, repr(record.get("id")))


class LiveData:
    """The dataset with changes applied, and its filtered, ``(updated_at, id)``-ordered view.

    Rows are numbered: ``0..len(dataset)-1`` are the dataset's records, and inserted
    records follow. ``wall_clock`` (epoch seconds) stamps every change.
    """

    def __init__(
        self,
        dataset: Dataset,
        *,
        cursor_field: str = "updated_at",
        seed: int = 0,
        wall_clock: Callable[[], float],
    ) -> None:
        self.dataset = dataset
        self.cursor_field = cursor_field
        self._seed = seed
        self._wall_clock = wall_clock
        self._lock = threading.RLock()
        self._override: dict[int, Record] = {}
        self._inserted: list[Record] = []
        self._deleted: set[int] = set()
        self._alive: list[int] | None = None  # natural order after deletes; None = all
        self._ordered: list[tuple[int, tuple[int, int, str], int]] | None = None
        self._keys: list[tuple[int, tuple[int, int, str], int]] | None = None  # base rows
        self._rows_by_id: dict[int, list[int]] | None = None
        self._batches = 0
        self.changed = False

    # -- reading ----------------------------------------------------------------------
    def _row(self, row: int) -> Record:
        found = self._override.get(row)
        if found is not None:
            return dict(found)
        base = len(self.dataset)
        if row >= base:
            return dict(self._inserted[row - base])
        return self.dataset.record(row)

    def __len__(self) -> int:
        with self._lock:
            return len(self.dataset) + len(self._inserted) - len(self._deleted)

    def records(self, start: int, stop: int) -> list[Record]:
        """Natural order (no filter): positions ``start <= p < stop``."""
        with self._lock:
            stop = min(stop, len(self))
            if self._alive is None:
                return [self._row(p) for p in range(start, stop)]
            return [self._row(self._alive[p]) for p in range(start, stop)]

    def filtered(self, since_us: int, start: int, stop: int) -> tuple[int, list[Record]]:
        """``(total, records)`` of the set with cursor ``>= since_us``, ``(updated_at, id)``
        order, positions ``start <= p < stop`` of it."""
        with self._lock:
            ordered = self._order()
            first = bisect_left(ordered, (since_us,))
            total = len(ordered) - first
            begin, end = first + start, min(first + stop, len(ordered))
            return total, [self._row(row) for _, _, row in ordered[begin:end]]

    def find(self, user_id: int) -> Record | None:
        with self._lock:
            rows = self._by_id().get(user_id)
            return self._row(rows[0]) if rows else None

    def prepare(self) -> None:
        """Build the filtered order now (a test or benchmark keeps it out of its timing)."""
        with self._lock:
            self._order()

    # -- indexes (built once, on first need) -------------------------------------------
    def _key(self, row: int, record: Record) -> tuple[int, tuple[int, int, str], int] | None:
        micros = cursor_micros(record.get(self.cursor_field))
        return None if micros is None else (micros, _id_order(record), row)

    def _base_keys(self) -> list[tuple[int, tuple[int, int, str], int]]:
        if self._keys is None:
            keys = []
            for row in range(len(self.dataset)):
                key = self._key(row, self.dataset.record(row))
                if key is not None:
                    keys.append(key)
            self._keys = keys
        return self._keys

    def _order(self) -> list[tuple[int, tuple[int, int, str], int]]:
        if self._ordered is None:
            touched = set(self._override) | self._deleted
            keys = [k for k in self._base_keys() if k[2] not in touched]
            base = len(self.dataset)
            extra = [(base + i, r) for i, r in enumerate(self._inserted)]
            extra += [(row, r) for row, r in self._override.items() if row < base]
            for row, record in extra:
                if row in self._deleted:
                    continue
                key = self._key(row, record)
                if key is not None:
                    keys.append(key)
            keys.sort()
            self._ordered = keys
        return self._ordered

    def _by_id(self) -> dict[int, list[int]]:
        if self._rows_by_id is None:
            index: dict[int, list[int]] = {}
            for row in range(len(self.dataset)):
                number = usable_id(self.dataset.record(row).get("id"))
                if number is not None:
                    index.setdefault(number, []).append(row)
            base = len(self.dataset)
            for i, record in enumerate(self._inserted):
                number = usable_id(record.get("id"))
                if number is not None:
                    index.setdefault(number, []).append(base + i)
            self._rows_by_id = index
        return self._rows_by_id

    # -- changing ---------------------------------------------------------------------
    def apply(
        self,
        *,
        update: int = 0,
        insert: int = 0,
        delete: int = 0,
        tie: int = 0,
        ids: Sequence[int] = (),
        at: float | None = None,
    ) -> ChangeResult:
        """Update, insert, delete ``K`` customers, and give ``tie`` more customers one shared
        ``updated_at``. ``ids`` names the customers to update (instead of picking them);
        ``at`` (epoch seconds) replaces the wall clock as the changes' time."""
        for name, count in (("update", update), ("insert", insert), ("delete", delete)):
            if count < 0:
                raise ChangeError(f"{name} must be >= 0, got {count}")
        if tie < 0:
            raise ChangeError(f"tie must be >= 0, got {tie}")
        with self._lock:
            moment = self._wall_clock() if at is None else at
            stamp = format_cursor(moment)
            by_id = self._by_id()
            self._batches += 1
            missing = [i for i in ids if i not in by_id]
            if missing:
                raise ChangeError(f"no customer with id {missing[0]}")
            chosen = list(dict.fromkeys(ids))
            picked = self._pick(update + delete + tie, exclude=set(chosen))
            to_update = chosen + picked[:update]
            to_delete = picked[update : update + delete]
            to_tie = picked[update + delete :]
            result = ChangeResult(updated_at=stamp)
            for number in to_update + to_tie:
                self._update(number, stamp)
            result.updated.extend(to_update)
            result.tied.extend(to_tie)
            for number in to_delete:
                for row in by_id.pop(number):
                    self._deleted.add(row)
                    self._override.pop(row, None)
            result.deleted.extend(to_delete)
            for _ in range(insert):
                record = self.dataset.new_record(len(self._inserted))
                record[self.cursor_field] = stamp
                row = len(self.dataset) + len(self._inserted)
                self._inserted.append(record)
                new_id = usable_id(record.get("id"))
                if new_id is not None:
                    by_id.setdefault(new_id, []).append(row)
                    result.inserted.append(new_id)
            if self._deleted:
                rows = len(self.dataset) + len(self._inserted)
                self._alive = [r for r in range(rows) if r not in self._deleted]
            self._ordered = None
            self.changed = True
            return result

    def apply_batch(self, batch: dict[str, int]) -> ChangeResult:
        """:meth:`apply` with counts by name (``update``, ``insert``, ``delete``, ``tie``)."""
        return self.apply(
            update=batch.get("update", 0),
            insert=batch.get("insert", 0),
            delete=batch.get("delete", 0),
            tie=batch.get("tie", 0),
        )

    def _pick(self, count: int, *, exclude: set[int]) -> list[int]:
        """``count`` distinct live customer ids, chosen by the seed and the batch number."""
        ids = sorted(set(self._by_id()) - exclude)
        if count > len(ids):
            raise ChangeError(f"asked to change {count} customers, only {len(ids)} exist")
        picked: list[int] = []
        seen: set[int] = set()
        n = 0
        while len(picked) < count:
            candidate = ids[mix(self._seed, _SALT_PICK, self._batches, n) % len(ids)]
            n += 1
            if candidate not in seen:
                seen.add(candidate)
                picked.append(candidate)
        return picked

    def _update(self, number: int, stamp: str) -> None:
        """A new version of customer ``number``: new engagement figures, the new stamp."""
        h = mix(self._seed, _SALT_VALUE, number, self._batches)
        rows = self._by_id()[number]
        record = self._row(rows[0])
        record["sessions_30d"] = h % 31
        record["orders_count"] = (h >> 8) % 9
        record["lifetime_value"] = f"{(h >> 16) % 2_000_000 / 100:.2f}"
        record[self.cursor_field] = stamp
        for row in rows:
            self._override[row] = dict(record)
