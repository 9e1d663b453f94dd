"""Lineage that reads clearly: which raw record was merged into which, and why.

The transform reports a merge by customer ids and the merged record's input position
(:class:`~customer_sync.models.Merge`); two records with the same id give
``survivor_id: 3, merged_id: 3``. :class:`RecordRefs` notes, as pages stream in, where each
position came from (page, index in the page, and the pass: drift re-checks fetch pages
again) and a small key of its id and email, so that each lineage row names both raw
records by a stable reference and gives the reason: ``same_id``, ``same_email``, or
``transitive`` with the references of the records the link runs ``via``.

Memory: two 8-byte keys per record plus one entry per page. Cost: about 0.5 µs per record
while pages stream in (the id is the customer id itself; the email key is a hash of the
stripped, lower-cased address, taken only when it has an ``@``).
"""

from __future__ import annotations

import bisect
from array import array
from collections import defaultdict, deque
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .errors import InvalidRecord
from .models import Merge

__all__ = ["RecordRefs"]

_NONE = 0  # the key of a missing or invalid id or email (a valid id is >= 1)
_INT64 = 2**63


def _email_hash(email: str) -> int:
    key = hash(email)
    return key if key != _NONE else 1


class RecordRefs:
    """Stable references of raw records by input position; explains merges."""

    def __init__(self, *, match_email: bool = True) -> None:
        from .transform import email_key, normalize_id

        self._normalize_id = normalize_id
        self._email_key = email_key
        self._match_email = match_email
        self._starts: list[int] = []  # first position of each page, in arrival order
        self._pages: list[tuple[int, int]] = []  # (page number, pass) of each page
        self._seen: dict[int, int] = defaultdict(int)
        self._ids = array("q")
        self._emails = array("q")

    def add_page(
        self,
        number: int,
        records: Sequence[Any],
        *,
        carried: tuple[Sequence[int], Sequence[str | None]] | None = None,
    ) -> None:
        """Note one page as it is handed to the transform (in the same order).

        ``carried``: the ids and email texts of rows handed in before ``records`` as
        extracted columns (an incremental run's saved snapshot), keyed the same way.
        """
        self._seen[number] += 1
        self._starts.append(len(self._ids))
        self._pages.append((number, self._seen[number]))
        ids, emails, match_email = self._ids.append, self._emails.append, self._match_email
        if carried is not None:
            self._ids.extend(carried[0])
            for email in carried[1]:
                if type(email) is str and "@" in email and match_email:
                    emails(_email_hash(email.strip().lower()))
                else:
                    emails(self._mail_key(email) if match_email and email is not None else _NONE)
        for record in records:
            if not isinstance(record, dict):
                ids(_NONE)
                emails(_NONE)
                continue
            value = record.get("id")
            ids(value if type(value) is int and 0 < value < _INT64 else self._id_key(value))
            email = record.get("email") if match_email else None
            if type(email) is str and "@" in email:
                emails(_email_hash(email.strip().lower()))
            else:
                emails(self._mail_key(email) if match_email and email is not None else _NONE)

    def _id_key(self, value: Any) -> int:
        try:
            return self._normalize_id(value)
        except InvalidRecord:
            return _NONE

    def _mail_key(self, value: Any) -> int:
        email = self._email_key(value)
        return _NONE if email is None else _email_hash(email)

    def ref(self, position: int) -> dict[str, int]:
        """``{"page", "index", "pass"}`` of the record at ``position`` (pass 1 is the first)."""
        slot = bisect.bisect_right(self._starts, position) - 1
        if slot < 0:
            return {"position": position}
        number, pass_no = self._pages[slot]
        return {"page": number, "index": position - self._starts[slot], "pass": pass_no}

    def explain(self, merges: Sequence[Merge]) -> Iterator[Mapping[str, Any]]:
        """One lineage row per merge: both records' references and the reason."""
        if not merges:
            return
        gone = {m.position for m in merges}
        wanted = {m.survivor_id for m in merges}
        survivors: dict[int, int] = {}
        for position, key in enumerate(self._ids):
            if key in wanted and position not in gone and key not in survivors:
                survivors[key] = position
        groups: dict[int, list[int]] = defaultdict(list)
        for m in merges:
            groups[m.survivor_id].append(m.position)
        for m in merges:
            survivor = survivors.get(m.survivor_id)
            row: dict[str, Any] = {
                "survivor_id": m.survivor_id,
                "merged_id": m.merged_id,
                "survivor": self.ref(survivor) if survivor is not None else None,
                "merged": self.ref(m.position),
            }
            row.update(self._reason(m, survivor, groups[m.survivor_id]))
            row["position"] = m.position
            yield row

    def _linked(self, a: int, b: int) -> bool:
        if self._ids[a] != _NONE and self._ids[a] == self._ids[b]:
            return True
        return self._emails[a] != _NONE and self._emails[a] == self._emails[b]

    def _reason(self, m: Merge, survivor: int | None, group: list[int]) -> dict[str, Any]:
        if survivor is None or len(self._ids) <= max(m.position, survivor):
            return {"reason": m.reason}
        if self._ids[m.position] == self._ids[survivor]:
            return {"reason": "same_id"}
        if self._emails[m.position] != _NONE and self._emails[m.position] == self._emails[survivor]:
            return {"reason": "same_email"}
        members = [survivor, *group]
        path = self._path(m.position, survivor, members)
        if path is None:
            return {"reason": m.reason}
        return {"reason": "transitive", "via": [self.ref(p) for p in path[1:-1]]}

    def _path(self, start: int, goal: int, members: list[int]) -> list[int] | None:
        """The shortest chain of direct links from ``start`` to ``goal`` inside a group."""
        previous: dict[int, int | None] = {start: None}
        queue = deque([start])
        while queue:
            node = queue.popleft()
            if node == goal:
                chain = [node]
                while (back := previous[chain[-1]]) is not None:
                    chain.append(back)
                return chain[::-1]
            for other in members:
                if other not in previous and self._linked(node, other):
                    previous[other] = node
                    queue.append(other)
        return None
