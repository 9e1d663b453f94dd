"""Page drift and completeness: is one pass over the pages a consistent picture? Pure.

A *pass* fetches every page once. Its :class:`PassLedger` notes, per page, the records'
digest and the ``total``/``total_pages`` reported, and finds three signals:

* ``totals_changed``: a page reported another ``total``/``total_pages`` than page 1 did
  (rows were inserted or deleted during the pass);
* ``count_mismatch``: the records received, before dedup, differ from ``total``;
* ``shifted``: the same record ends page *n* and starts page *n + 1*, which is what a
  row inserted (or deleted) in front of them does between the two requests.

``totals_changed`` and ``count_mismatch`` are *hard* signals: the pass cannot be trusted.
``shifted`` is *soft*: a data set may genuinely hold an exact duplicate there, so it only
asks for a re-check. :func:`verdict` then decides, after each pass, whether to accept the
pass, fetch everything once more, or give up (see ``docs/client.md``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ..jsoncodec import canonical as _canonical

__all__ = ["Decision", "PassLedger", "Signal", "page_digest", "verdict"]

_EDGE = 16  # records kept from each end of a page to spot shifted records


@dataclass(frozen=True, slots=True)
class Signal:
    kind: str  # "totals_changed" | "count_mismatch" | "shifted"
    detail: str

    @property
    def hard(self) -> bool:
        return self.kind != "shifted"


def record_digest(record: Any) -> str:
    """A stable digest of one raw record (key order does not matter)."""
    return hashlib.blake2b(_canonical(record), digest_size=12).hexdigest()


def page_digest(records: Sequence[Any]) -> str:
    """The digest of a page's records, in order (what two fetches of a page compare)."""
    return hashlib.blake2b(_canonical(list(records)), digest_size=16).hexdigest()


def _record_id(record: Any) -> object:
    return record.get("id") if isinstance(record, dict) else None


@dataclass
class PassLedger:
    """What one pass received. ``add`` every page; then read ``signals()``."""

    first_total: int | None = None
    first_total_pages: int | None = None
    records: int = 0
    pages: dict[int, str] = field(default_factory=dict)  # page -> digest of its records
    _edges: dict[int, tuple[list[str], list[str], list[object]]] = field(default_factory=dict)
    _by_digest: dict[str, int] = field(default_factory=dict)
    _changed_pages: int = 0
    _last_totals: tuple[int | None, int | None] | None = None
    _started: bool = False

    def add(
        self, number: int, records: Sequence[Any], total: int | None, total_pages: int | None
    ) -> int | None:
        """Note one page. Returns the page it duplicates (a paging loop), if any.

        Only pages of two records or more count: with ``per_page=1`` a data set's own
        exact duplicate would otherwise look like a loop.
        """
        if not self._started:
            self._started = True
            self.first_total, self.first_total_pages = total, total_pages
        elif (total, total_pages) != (self.first_total, self.first_total_pages):
            self._changed_pages += 1
            self._last_totals = (total, total_pages)
        digest = page_digest(records)
        self.records += len(records)
        self.pages[number] = digest
        ids = [_record_id(r) for r in records[-_EDGE:]]
        head = [record_digest(r) for r in records[:_EDGE]]
        tail = [record_digest(r) for r in records[-_EDGE:]]
        self._edges[number] = (head, tail, ids)
        if len(records) >= 2:  # one record can repeat legitimately (an exact duplicate)
            seen = self._by_digest.setdefault(digest, number)
            if seen != number:
                return seen
        return None

    @property
    def expected_pages(self) -> int | None:
        """The pages a re-walk can plan at once: ``total_pages`` as the pass last saw it (a
        later page's, when it changed), but no further than the last page that held records
        (a server claiming 99,999 pages of nothing was not walked that far)."""
        latest = self._last_totals[1] if self._last_totals is not None else self.first_total_pages
        filled = [n for n, (head, _, _) in self._edges.items() if head]
        if latest is None or not filled:
            return None
        return min(latest, max(filled))

    def signals(self) -> list[Signal]:
        found: list[Signal] = []
        total = self.first_total
        if self._last_totals is not None:
            now_total, now_pages = self._last_totals
            found.append(
                Signal(
                    "totals_changed",
                    f"total went from {total} ({self.first_total_pages} pages) to "
                    f"{now_total} ({now_pages} pages) during the pass "
                    f"({self._changed_pages} page(s) disagree with page 1)",
                )
            )
        elif total is not None and self.records != total:
            found.append(
                Signal(
                    "count_mismatch",
                    f"received {self.records} records, the API reports total={total}",
                )
            )
        shifts = self._shifts()
        if shifts:
            number, shift, shown = shifts[0]
            found.append(
                Signal(
                    "shifted",
                    f"records shifted across {len(shifts)} page boundary(ies): e.g. "
                    f"{shift} record(s) from id {shown!r} end page {number} and start "
                    f"page {number + 1}",
                )
            )
        return found

    def _shifts(self) -> list[tuple[int, int, object]]:
        """``(page, records shifted, id shown)`` for every boundary a record straddles."""
        shifts: list[tuple[int, int, object]] = []
        for number in sorted(self._edges):
            after = self._edges.get(number + 1)
            if after is None:
                continue
            _, tail, tail_ids = self._edges[number]
            shift = _overlap(tail, after[0])
            if shift:
                shifts.append((number, shift, tail_ids[-shift]))
        return shifts

    def shifted_pages(self) -> list[int]:
        """The pages on both sides of every boundary a record straddles (soft signal)."""
        return sorted({n for number, _, _ in self._shifts() for n in (number, number + 1)})

    def agrees_with(self, other: PassLedger) -> bool:
        """Same records on the same pages, and the same reported sizes."""
        return (self.first_total, self.first_total_pages, self.pages) == (
            other.first_total,
            other.first_total_pages,
            other.pages,
        )


def _overlap(tail: list[str], head: list[str]) -> int:
    """The longest ``m`` with ``tail[-m:] == head[:m]`` (0 if none)."""
    for m in range(min(len(tail), len(head)), 0, -1):
        if tail[-m:] == head[:m]:
            return m
    return 0


class Decision(Enum):
    ACCEPT = "accept"  # the pass is complete and consistent
    RECHECK = "recheck"  # fetch every page once more
    STABLE_BUT_SHORT = "stable_but_short"  # two passes agree, but the count is off


def verdict(current: PassLedger, previous: PassLedger | None) -> Decision:
    """Accept, re-check or give up after a pass (``previous`` is the pass before, if any).

    Any pass is accepted when it shows no signal at all: its totals held from its first
    page to its last and its records add up to them, so no row moved while it ran (a
    re-check pass need not also agree with the drifting pass before it). A re-check pass
    with signals is accepted when it agrees with the pass before it and shows no hard
    signal: two consecutive full passes that agree mean the data has stopped moving.
    """
    signals = current.signals()
    hard = [s for s in signals if s.hard]
    if not signals:
        return Decision.ACCEPT  # a clean pass stands on its own, re-check or not
    if previous is None:
        return Decision.RECHECK
    if current.agrees_with(previous):
        if not hard:
            return Decision.ACCEPT
        if all(s.kind == "count_mismatch" for s in hard):
            return Decision.STABLE_BUT_SHORT
    return Decision.RECHECK
