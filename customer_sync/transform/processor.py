"""The data processor: raw customer records in, analytics-ready customers out.

One-shot::

    result = CustomerDataProcessor(as_of=as_of).process_customers(raw_records)

Streaming, while pages arrive (memory stays flat: each batch becomes compact columns at
once and its raw dicts are dropped; only rejected records are kept, with their reason)::

    processor = CustomerDataProcessor(as_of=as_of)
    for page in pages:
        processor.add_batch(page.records)
    result = processor.finish()

Every run ends with the accounting identity: records in = exported + merged + rejected.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from itertools import islice
from typing import Any, Final

import polars as pl

from ..errors import AccountingError, InvalidRecord
from ..frames import CUSTOMER_SCHEMA
from ..models import Merge, ProcessCounts, ProcessResult, Rejection
from ..rules import BusinessRules
from ._columnar import Deriver, Extractor, canonical_frame, derived_schema
from .dedupe import plan_deduplication
from .report import data_quality
from .rules.customer_id import check_record

__all__ = ["AccountingError", "CustomerDataProcessor"]

#: Records handed to one add_batch by process_customers.
_BATCH: Final = 65_536
#: Rows extracted (as text columns) before the rules run over them, in the background.
_FLUSH_ROWS: Final = 131_072


def _refuse_single_value(records: object) -> None:
    if isinstance(records, Mapping | str | bytes):
        raise TypeError(
            f"expected a sequence of raw records, got one {type(records).__name__}; "
            "wrap a single record in a list"
        )


def _reject(record: Any, position: int) -> Rejection:
    """The rejection of a record the columnar path set aside, with the reference's reason."""
    try:
        check_record(record)
    except InvalidRecord as exc:
        return Rejection(reason=exc.reason, record=record, position=position)
    raise AccountingError(
        f"record at position {position} was set aside but its id is valid; "
        "the columnar id rule disagrees with normalize_id"
    )


def _indices(items: list[type], value: type) -> Iterator[int]:
    """Every index of ``value`` in ``items``, found by C-speed ``list.index`` scans."""
    index = -1
    while True:
        try:
            index = items.index(value, index + 1)
        except ValueError:
            return
        yield index


def _split_objects(
    records: Sequence[Any], base: int
) -> tuple[Sequence[dict[str, Any]], Sequence[int], bool, list[Rejection]]:
    """The dict records, their positions, whether all are plain dicts, and a rejection
    for every record that is not a dict."""
    types = list(map(type, records))
    odd_types = set(types) - {dict}
    if not odd_types:
        return records, range(base, base + len(records)), True, []
    exact = not any(issubclass(kind, dict) for kind in odd_types)
    odd = sorted(index for kind in odd_types for index in _indices(types, kind))
    objects: list[dict[str, Any]] = []
    positions: list[int] = []
    rejected: list[Rejection] = []
    start = 0
    for index in odd:
        objects.extend(records[start:index])
        positions.extend(range(base + start, base + index))
        start = index + 1
        record = records[index]
        if isinstance(record, dict):  # a dict subclass is still a JSON object
            objects.append(record)
            positions.append(base + index)
        else:
            rejected.append(_reject(record, base + index))
    objects.extend(records[start:])
    positions.extend(range(base + start, base + len(records)))
    return objects, positions, exact, rejected


class _Run:
    """One run's state: the position counter, rejections, staged and derived columns."""

    def __init__(
        self,
        deriver: Deriver,
        match_email: bool,
        extra: Sequence[str] = (),
        tap: Callable[[pl.DataFrame], None] | None = None,
    ) -> None:
        self._deriver = deriver
        self._match_email = match_email
        self._records_in = 0
        self._rejected: list[Rejection] = []
        self._extractor = Extractor(extra)
        self._tap = tap
        self._replaced = 0  # records before this position belong to a replaced pass
        self._derived: list[pl.DataFrame] = []
        # At most one derive runs in the background (Polars releases the GIL), overlapping
        # the Python-bound extraction of the next records; results keep their order.
        self._worker: ThreadPoolExecutor | None = None
        self._pending: Future[pl.DataFrame] | None = None

    def add(self, records: Sequence[Any]) -> None:
        base = self._records_in
        self._records_in += len(records)
        objects, positions, exact, rejected = _split_objects(records, base)
        for index in self._extractor.add(objects, positions, exact=exact):
            rejected.append(_reject(objects[index], positions[index]))
        rejected.sort(key=lambda rejection: rejection.position)
        self._rejected.extend(rejected)
        if self._extractor.buffered_rows >= _FLUSH_ROWS:
            self._flush()

    def add_extracted(self, frame: pl.DataFrame) -> None:
        """Rows extracted by an earlier run (its tap's frames, without ``position``): they
        take the next positions, as records added now would."""
        base = self._records_in
        self._records_in += frame.height
        columns = ["position", *self._extractor.columns]
        self._extractor.add_frame(
            frame.with_columns(
                pl.int_range(base, base + frame.height, dtype=pl.Int64).alias("position")
            ).select(columns)
        )
        if self._extractor.buffered_rows >= _FLUSH_ROWS:
            self._flush()

    def _take(self) -> pl.DataFrame | None:
        """The rows extracted so far as one frame (handed to the tap), or None."""
        frames = self._extractor.take_frames()
        if not frames:
            return None
        staged = pl.concat(frames, rechunk=True)  # one buffer per column, not per slice
        if self._tap is not None:
            self._tap(staged)
        return staged

    def _flush(self) -> None:
        """Hand the extracted rows to a background derive (after the previous one is done)."""
        self._collect()
        staged = self._take()
        if staged is None:
            return
        if self._worker is None:
            self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="transform")
        self._pending = self._worker.submit(self._deriver.derive, staged)

    def _collect(self) -> None:
        """Wait for the background derive, if any, and keep its result."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self._derived.append(pending.result())

    def finish(self) -> ProcessResult:
        try:
            self._collect()
        finally:
            if self._worker is not None:
                self._worker.shutdown(wait=True, cancel_futures=True)
                self._worker = None
        staged = self._take()
        if staged is not None:  # the last rows: nothing left to overlap with, derive here
            self._derived.append(self._deriver.derive(staged))
        derived, self._derived = self._derived, []
        replaced = self._replaced
        if replaced:  # a drift re-walk replaced the passes before it: set them aside
            derived = [frame.filter(pl.col("position") >= replaced) for frame in derived]
            self._rejected = [r for r in self._rejected if r.position >= replaced]
        canonical_wanted = self._deriver.canonical
        kept, merges, accepted = _sorted_survivors(
            derived, match_email=self._match_email, canonical=canonical_wanted
        )
        frame = kept.select(pl.col(name).cast(dtype) for name, dtype in CUSTOMER_SCHEMA.items())
        rules = self._deriver.rules
        canonical = canonical_frame(kept, rules) if canonical_wanted else None
        extractor = self._extractor
        quality = data_quality(
            kept, rules, self._rejected, extractor.records_seen, extractor.keys_seen
        )
        del kept
        counts = ProcessCounts(
            records_in=self._records_in,
            exported=frame.height,
            duplicates_merged=len(merges),
            rejected=len(self._rejected),
            replaced_by_rewalk=replaced,
        )
        _check_accounting(counts, merges, self._rejected, accepted)
        return ProcessResult(
            frame=frame,
            rejected=self._rejected,
            merges=merges,
            counts=counts,
            canonical=canonical,
            quality=quality,
        )


def _sorted_survivors(
    derived: list[pl.DataFrame], *, match_email: bool, canonical: bool = True
) -> tuple[pl.DataFrame, list[Merge], int]:
    """The survivors of deduplication, sorted by ``full_name`` then ``customer_id`` and
    without ``position``; the merges; and how many rows were accepted in all.

    The derived frames are consumed (the list is emptied). Only the order, a row index, is
    computed over the whole frame; then each column is gathered and its source released
    before the next one, so the sort never holds a second full copy of the frame.
    """
    indexed = (
        pl.concat(derived, rechunk=False)
        if derived
        else pl.DataFrame(schema=derived_schema(canonical))
    ).with_row_index("_row")
    derived.clear()
    survivors, merges = plan_deduplication(indexed, match_email=match_email)
    order = (
        survivors.select("_row", "full_name", "customer_id")
        .sort(["full_name", "customer_id"])
        .collect()["_row"]
    )
    del survivors
    accepted = indexed.height
    columns = indexed.drop("_row", "position").get_columns()
    del indexed
    kept = []
    columns.reverse()
    while columns:
        kept.append(columns.pop().gather(order))  # the source column is released here
    return pl.DataFrame(kept), merges, accepted


def _check_accounting(
    counts: ProcessCounts, merges: list[Merge], rejected: list[Rejection], accepted: int
) -> None:
    """Raise :class:`AccountingError` unless every input position is accounted for once."""
    problems = []
    if not counts.balanced:
        problems.append(
            f"records in {counts.records_in} != exported {counts.exported} "
            f"+ merged {counts.duplicates_merged} + rejected {counts.rejected}"
        )
    if accepted + counts.rejected + counts.replaced_by_rewalk != counts.records_in:
        problems.append(
            f"accepted {accepted} + rejected {counts.rejected} + replaced by a re-walk "
            f"{counts.replaced_by_rewalk} != records in"
        )
    if accepted != counts.exported + counts.duplicates_merged:
        problems.append(f"accepted {accepted} != exported + merged")
    set_aside = {item.position for item in rejected} | {item.position for item in merges}
    if len(set_aside) != len(rejected) + len(merges):
        problems.append("a position is both rejected and merged, or counted twice")
    if problems:
        raise AccountingError("transform accounting failed: " + "; ".join(problems))


class CustomerDataProcessor:
    """Normalizes, deduplicates and scores raw customer records (issue #4).

    ``rules`` carries every threshold; ``as_of`` is the time every relative rule uses
    (default: now, UTC, read once here; a naive datetime is taken as UTC).
    ``canonical=False`` skips the cleaned canonical values (``ProcessResult.canonical`` is
    then None): only the database destinations read them, and a JSON-only run saves their
    work and memory. ``extra_fields`` are raw fields kept as text for a tap (see :meth:`tap`).
    """

    def __init__(
        self,
        rules: BusinessRules | None = None,
        as_of: datetime | None = None,
        *,
        extra_fields: Sequence[str] = (),
        canonical: bool = True,
    ) -> None:
        self.rules = rules if rules is not None else BusinessRules()
        moment = as_of if as_of is not None else datetime.now(UTC)
        self.as_of = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        self._deriver = Deriver(self.rules, self.as_of, canonical=canonical)
        self._extra = tuple(extra_fields)
        self._tap: Callable[[pl.DataFrame], None] | None = None
        self._stream = self._new_run()

    def _new_run(self) -> _Run:
        return _Run(self._deriver, self.rules.match_email, self._extra, self._tap)

    def tap(self, receiver: Callable[[pl.DataFrame], None] | None) -> None:
        """Hand every frame the streaming run extracts to ``receiver`` before it is
        derived: ``position``, ``customer_id`` (null for a record without a valid id), the
        raw fields as text, ``_absent_keys`` (a bit per field the record lacks) and one
        ``_extra:NAME`` text column per ``extra_fields`` name. Such frames, without
        ``position``, go back in through :meth:`add_extracted` (the incremental sync's
        snapshot). Applies from the next streaming run on (call it before adding)."""
        self._tap = receiver
        self._stream._tap = receiver

    def replace_before(self, position: int) -> None:
        """The records added before ``position`` belong to passes a drift re-walk replaced
        (the source's data changed while it was read, and the last pass agrees with
        itself): the streaming run sets them aside, counted as ``replaced_by_rewalk``."""
        self._stream._replaced = position

    def add_extracted(self, frame: pl.DataFrame) -> None:
        """Add rows a tap received in an earlier run (see :meth:`tap`) to the streaming
        run, as if their records were added now."""
        self._stream.add_extracted(frame)

    def process_customers(self, raw_records: Iterable[Any]) -> ProcessResult:
        """Process a whole input at once. Independent of any streaming run in progress."""
        _refuse_single_value(raw_records)
        run = self._new_run()
        if isinstance(raw_records, Sequence):
            for start in range(0, len(raw_records), _BATCH):
                run.add(raw_records[start : start + _BATCH])
        else:
            iterator = iter(raw_records)
            while batch := list(islice(iterator, _BATCH)):
                run.add(batch)
        return run.finish()

    def add_batch(self, records: Sequence[Any]) -> None:
        """Add one batch to the streaming run; positions continue from the last batch."""
        _refuse_single_value(records)
        self._stream.add(records)

    def finish(self) -> ProcessResult:
        """Close the streaming run and return its result; the next add_batch starts afresh."""
        run, self._stream = self._stream, self._new_run()
        return run.finish()
