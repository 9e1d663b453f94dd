"""What a dataset of raw customer records offers the server, whatever its source.

A dataset is an indexable sequence of raw records (JSON-ready dicts, spelled the way the
real API spells them) that also knows, for tests, what each record *is*: a distinct
customer, an exact duplicate, a same-email duplicate, or a record with no usable id.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterator
from typing import Any, Literal

__all__ = ["RECORD_KINDS", "Dataset", "Record", "RecordKind", "usable_id"]

Record = dict[str, Any]

#: ``customer``: a distinct customer (fields may still be missing or garbled);
#: ``duplicate``: an exact copy of an earlier record; ``email_duplicate``: another id
#: with the email of an earlier customer; ``bad_id``: no usable id.
RecordKind = Literal["customer", "duplicate", "email_duplicate", "bad_id"]
RECORD_KINDS: tuple[RecordKind, ...] = ("customer", "duplicate", "email_duplicate", "bad_id")


def usable_id(value: Any) -> int | None:
    """The integer id behind an API spelling (``17`` or ``" 17 "``), or ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
        return number if number > 0 else None
    return None


class Dataset(ABC):
    """An indexable, read-only sequence of raw records."""

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def record(self, index: int) -> Record:
        """The raw record at ``index`` (0-based); a fresh dict the caller may keep."""

    @abstractmethod
    def kind(self, index: int) -> RecordKind:
        """What the record at ``index`` is (see :data:`RecordKind`)."""

    @abstractmethod
    def find(self, user_id: int) -> Record | None:
        """The record ``GET /users/{id}`` answers with, or ``None`` (404)."""

    @abstractmethod
    def new_record(self, number: int) -> Record:
        """The ``number``-th customer that signs up while the API runs (page drift).

        Its id never collides with an id of the dataset.
        """

    def iter_records(self) -> Iterator[Record]:
        """Every record in order. Lazy: a generated dataset is never held in memory."""
        for index in range(len(self)):
            yield self.record(index)

    def kinds(self) -> Counter[RecordKind]:
        """How many records of each kind the dataset holds."""
        return Counter(self.kind(index) for index in range(len(self)))

    def expected_ids(self) -> list[int]:
        """Sorted ids of the distinct customers a correct pipeline exports.

        Exact duplicates and records with no usable id are excluded; a same-email
        duplicate is merged into the earlier customer, whose id is the one listed.
        """
        ids = {
            usable_id(self.record(index).get("id"))
            for index in range(len(self))
            if self.kind(index) == "customer"
        }
        return sorted(i for i in ids if i is not None)
