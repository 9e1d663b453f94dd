"""Orchestration: source -> transform -> sink, for one run.

The pipeline owns the order of things and the accounting; the pieces own the work:
the client fetches pages (with retries, rate limits, drift checks and the checkpoint),
the processor turns raw records into customers as pages arrive, and the sink writes
everything atomically. Hooks observe; nothing here prints.

A run is *full* or *incremental* (:mod:`.incremental` plans it). A full run streams every
record into the processor, whose extracted columns (one row per id, the newest version)
become the new snapshot. An incremental run fetches only what changed since the saved
mark, hands the transform the saved rows of every customer not in that delta (as columns,
no JSON) and the delta's records, so the output is what a full sync of the same data
gives. The state (:mod:`.state`) is saved
atomically right after the output set is in place.
"""

from __future__ import annotations

import asyncio
import contextlib
import random as random_module
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from . import __version__
from .checkpoint import Checkpoint
from .config import Settings
from .errors import (
    AccountingError,
    IncompleteSyncError,
    PipelineError,
    RequiredFieldsMissing,
    SinkError,
)
from .events import Hook, null_hook
from .exporter import DataExporter, format_timestamp
from .incremental import (
    KEY,
    ChangeCounts,
    FilteredPaginator,
    ServerTime,
    SnapshotBuilder,
    SnapshotFrames,
    SyncPlan,
    compare_snapshots,
    cursor_column,
    cursor_expr,
    decode_records,
    format_mark,
    micros,
    plan_sync,
    snapshot_changes,
    snapshot_columns,
)
from .lineage import RecordRefs
from .models import Event, ProcessResult, RunStats
from .quality import metadata_warnings, unmet_requirements
from .redaction import mask_url
from .report import ReportRenderer, check_report_writable, report_part, write_report
from .sink.base import Sink, SinkReport
from .sink.factory import open_sink
from .sink.json_file import JsonFileSink, JsonStreamSink, new_run_id
from .sink.output_set import PartBuilder
from .sink.summary import summary_report
from .source import CustomerAPIClient
from .source.pagination import Paginator
from .state import NullStateStore, ParquetStateStore, StateIdentity, StateStore, SyncState
from .transform import CustomerDataProcessor

__all__ = ["AccountingError", "Interrupted", "RunReport", "run_pipeline"]


class Interrupted(PipelineError):
    """The run was stopped (Ctrl-C or SIGTERM). The checkpoint is kept for the next run."""

    exit_code = 130


@dataclass(frozen=True, slots=True)
class RunReport:
    result: ProcessResult
    stats: RunStats
    sink: SinkReport
    metadata: dict[str, Any]
    durations: dict[str, float] = field(default_factory=dict)
    report_path: Path | None = None
    sinks: tuple[SinkReport, ...] = ()  # one per destination, in order; ``sink`` is the first


@contextlib.contextmanager
def _source_url(settings: Settings, hook: Hook, clock: Callable[[], float]) -> Iterator[
    tuple[str, bool]
]:
    """The API base URL, starting the built-in simulator when none is configured."""
    if settings.api_url is not None:
        yield settings.api_url, False
        return
    from .simulated_api import SimulatedServer, SimulatorConfig

    config = SimulatorConfig(
        customers=settings.sim_customers,
        seed=settings.sim_seed,
        fault_rate=settings.sim_fault_rate,
        rate_limit=settings.sim_rate_limit,
    )
    with SimulatedServer(config) as server:
        hook(Event("simulator_started", clock(), {"url": server.base_url}))
        yield server.base_url, True


def run_pipeline(
    settings: Settings,
    *,
    hook: Hook = null_hook,
    now: Callable[[], datetime],
    clock: Callable[[], float] = time.perf_counter,
    transport: httpx.AsyncBaseTransport | None = None,
    sleep: Callable[[float], Awaitable[None]] | None = None,
    wall_clock: Callable[[], float] | None = None,
    random: random_module.Random | None = None,
    stdout: BinaryIO | None = None,
    sink: Sink | None = None,
    report_renderer: ReportRenderer | None = None,
) -> RunReport:
    """Run one sync. Raises :class:`PipelineError` subclasses for expected failures.

    ``transport``, ``sleep``, ``wall_clock`` and ``random`` are the client's injected edges
    (tests pass an in-process transport and fake time); ``clock`` drives both the stage
    durations and the client. Ctrl-C anywhere between the first request and the end of the
    export raises :class:`Interrupted`: the checkpoint is kept and the previous output is
    intact.

    ``--output -`` writes the document to ``stdout`` (a binary stream) with no side files;
    ``sink`` replaces the default sink altogether (tests inject faults through it).
    ``report_renderer`` draws the HTML report in a second process while the destinations
    are written (the CLI passes one); without it the report is drawn in this process.
    """
    started = clock()
    durations: dict[str, float] = {}
    run_start = now()
    as_of = settings.resolved_as_of(run_start)
    run_id = new_run_id()
    refs = RecordRefs(match_email=settings.match_email)
    sinks = [sink] if sink is not None else _sinks(settings, refs, stdout, report_renderer)
    # No state for the built-in simulator (a new data set every run, so nothing carries
    # over), nor when streaming to stdout without a state directory (no file is written).
    keeps_state = settings.api_url is not None and not (
        settings.writes_to_stdout and settings.state_dir is None
    )
    store: StateStore = (
        ParquetStateStore(
            settings.sync_state_dir,
            pending_max_age_seconds=settings.checkpoint_max_age_hours * 3600,
        )
        if keeps_state
        else NullStateStore()
    )
    identity = StateIdentity(
        source=_source_label(settings),
        incremental_param=settings.incremental_param,
        cursor_field=settings.cursor_field,
        credentials=tuple(settings.secret_values()),
    )
    for each in sinks:
        each.check_writable()  # fail before any fetching
    if settings.written_report_path is not None:
        check_report_writable(settings.written_report_path)
    store.check_writable()
    saved, problem = store.load()
    if saved is not None:
        problem = saved.problem_with(identity)
        columns = saved.snapshot.frame().collect_schema().names()
        if problem is None and columns != snapshot_columns(settings.cursor_field):
            problem = "the saved snapshot has other columns than this version reads"
        if problem is not None:
            saved = None
    if problem is not None:
        hook(Event("sync_state_not_used", clock(), {"reason": problem}))
    plan = plan_sync(
        sync_mode=settings.sync_mode,
        full_refresh=settings.full_refresh,
        full_refresh_every=settings.full_refresh_every,
        lookback=settings.lookback,
        mark=saved.mark if saved else None,
        last_full_sync_at=saved.last_full_sync_at if saved else None,
        state_problem=problem,
        now=run_start,
    )
    since_text = format_mark(plan.since) if plan.since is not None else None
    scope = (
        f"{identity.source} [{settings.incremental_param}>={since_text}]" if since_text else None
    )
    hook(
        Event(
            "sync_planned",
            clock(),
            {"mode": plan.mode, "reason": plan.reason, "since": since_text},
        )
    )
    checkpoint = Checkpoint(
        settings.checkpoint_dir,
        max_age_seconds=settings.checkpoint_max_age_hours * 3600,
        fresh=settings.fresh,
        hook=hook,
        clock=clock,
        wall=now,
        source_label=scope or _simulator_label(settings),
        credentials=settings.secret_values(),
        background=True,  # pages are compressed and written off the event loop
    )
    checkpoint.check_writable()
    if not settings.verify_tls:
        hook(Event("tls_verification_disabled", clock(), {}))

    processor = CustomerDataProcessor(
        rules=settings.rules,
        as_of=as_of,
        extra_fields=[settings.cursor_field],
        # The canonical values only feed database destinations (and injected sinks).
        canonical=sink is not None or any(d.kind != "json" for d in settings.destinations),
    )
    run = _Run(settings, plan, since_text, scope or f"{identity.source} [full]", as_of, store)
    # The extracted columns become the next snapshot, written to the state directory as
    # the run goes (only ids, in memory, when no state is kept).
    run.frames.ids_only = not keeps_state
    if isinstance(store, ParquetStateStore):
        run.frames.spill_dir = store.spill_dir(run_id)
    processor.tap(run.frames.add)
    try:
        with _source_url(settings, hook, clock) as (base_url, simulated):

            def client_for(wrap: Callable[[Paginator], Paginator], keep: bool) -> Any:
                return CustomerAPIClient(
                    base_url,
                    api_key=settings.api_key,
                    settings=settings.client,
                    transport=transport,
                    sleep=sleep,
                    clock=clock,
                    wall_clock=wall_clock,
                    random=random,
                    hook=hook,
                    page_store=checkpoint if keep else None,
                    wrap_paginator=wrap,
                )

            try:
                stats = asyncio.run(run.fetch(client_for, processor, refs, hook, clock, run_start))
            finally:  # however the fetch ends, every page it fetched is on disk
                checkpoint.close()
        durations["fetch_and_transform"] = clock() - started

        mark = clock()
        hook(Event("transform_finishing", clock(), {"records": stats.records}))
        outcome = run.merge(saved, processor, refs, hook, clock)
        result = processor.finish()
        run.settle(outcome, saved, result)
        durations["finish_transform"] = clock() - mark
        run.check_accounting(result, stats, outcome)
        hook(Event("processed", clock(), _counts(result)))

        mark = clock()
        meta = _metadata(settings, result, stats, base_url, simulated, as_of, durations)
        meta["sync"] = run.metadata(saved, outcome)
        if outcome.mode == "incremental":
            meta["records_fetched"] = stats.records
        # Built once: the file and the run's report carry the very same object.
        metadata = DataExporter(settings.rules, now=now).build_metadata(
            result.frame,
            {
                "run_id": run_id,
                "started_at": format_timestamp(run_start),
                **meta,
                "checkpoint": {
                    "pages_saved": checkpoint.saved_pages,
                    "json_bytes": checkpoint.json_bytes,
                    "stored_bytes": checkpoint.stored_bytes,
                },
            },
        )
        metadata["run_stats"]["page_timeline"] = page_timeline(run.arrivals, started)
        # Read off the metadata above, so the JSON, the report and stderr say the same.
        metadata["source_field_warnings"] = metadata_warnings(metadata)
        _warn_and_require(settings, metadata, hook, clock)  # before any file is touched
        if report_renderer is not None and settings.written_report_path is not None:
            report_renderer.start(metadata, result.rejected)  # drawn while sinks write
        # Each destination is all-or-nothing on its own; they are written one after another.
        reports = tuple(each.write(result, metadata) for each in sinks)
        if settings.written_report_path is not None and not settings.report_beside_output:
            write_report(
                settings.written_report_path, metadata, result.rejected, report_renderer
            )
        sink_report = reports[0]
        # Then the state, atomically: a crash in between leaves the previous state, which
        # is always safe (the next run fetches more). See customer_sync/state.py.
        store.save(run.next_state(identity, saved, outcome, run_id))
        metadata = dict(sink_report.metadata) or metadata  # as written (the set's files)
        durations["export"] = clock() - mark
    except KeyboardInterrupt:
        kept = checkpoint.pages_on_disk()
        raise Interrupted(
            f"stopped; {kept} page(s) are kept in {settings.checkpoint_dir}"
            if kept
            else "stopped before any page was kept",
            hint="run the same command again to resume" if kept else "run the same command again",
        ) from None
    finally:
        run.frames.abandon()  # a failed run's parts are swept by the next save
    checkpoint.clear()
    durations["total"] = clock() - started
    targets = ", ".join(report.target for report in reports)
    hook(Event("exported", clock(), {"output": targets, **_counts(result)}))
    return RunReport(
        result, stats, sink_report, metadata, durations, settings.written_report_path, reports
    )


def _sinks(
    settings: Settings,
    refs: RecordRefs,
    stdout: BinaryIO | None,
    renderer: ReportRenderer | None = None,
) -> list[Sink]:
    """One sink per destination. The JSON output (``--output``) keeps its side files and
    the HTML report; ``--output -`` streams to stdout."""
    sinks: list[Sink] = []
    for destination in settings.destinations:
        if destination.kind == "json" and destination.path == settings.output:
            sinks.append(
                JsonStreamSink(stdout if stdout is not None else _stdout())
                if settings.writes_to_stdout
                else JsonFileSink(
                    settings.output,
                    lineage=refs.explain,
                    extra_parts=_report_parts(settings, renderer),
                )
            )
        elif destination.kind == "json":
            assert destination.path is not None
            sinks.append(JsonFileSink(destination.path, lineage=refs.explain))
        else:
            sinks.append(open_sink(destination))
    return sinks


def _report_parts(settings: Settings, renderer: ReportRenderer | None) -> list[PartBuilder]:
    """The HTML report as one more file of the output set (none with ``--no-report``)."""
    if settings.report_path is None:
        return []
    return [report_part(settings.report_path, renderer)]


def _warn_and_require(
    settings: Settings, metadata: dict[str, Any], hook: Hook, clock: Callable[[], float]
) -> None:
    """Tell the hooks about each missing-field warning; fail if a required field is one."""
    warnings = metadata["source_field_warnings"]
    for warning in warnings:
        hook(Event("source_fields_missing", clock(), {"message": warning["message"]}))
    unmet = unmet_requirements(warnings, settings.required_fields)
    if unmet:
        first = next(w for w in warnings if unmet[0] in w["fields"])
        raise RequiredFieldsMissing(
            f"required field {', '.join(unmet)} missing: {first['message']}",
            hint="the previous output is intact; fix the source or drop it from "
            "--require-fields",
        )


def page_timeline(arrivals: Sequence[float], started: float, points: int = 120) -> list[
    list[float]
]:
    """Pages received over time as ``[[seconds since start, pages so far], ...]``,
    thinned to at most ``points`` (plus the last page) so the metadata stays small."""
    step = max(1, -(-len(arrivals) // points))
    picked = list(range(step - 1, len(arrivals), step))
    if arrivals and picked[-1:] != [len(arrivals) - 1]:
        picked.append(len(arrivals) - 1)
    return [[round(arrivals[i] - started, 3), i + 1] for i in picked]


def _source_label(settings: Settings) -> str:
    """The source a saved state belongs to: the masked URL, or the built-in simulator."""
    return _simulator_label(settings) or mask_url(settings.api_url or "")


@dataclass
class _Outcome:
    """What the fetch and the merge decided; :meth:`_Run.settle` adds the snapshot (built
    from the transform's extracted columns) and the counts once the transform is done."""

    mode: str  # the mode the run finished as
    reason: str
    builder: SnapshotBuilder | None  # the delta's (incremental), None on a full fetch
    delta_ids: Any = None  # pl.Series of the delta's customer ids (incremental)
    snapshot: Any = None  # Snapshot: one row per customer id
    counts: ChangeCounts = field(default_factory=lambda: ChangeCounts(0, 0, 0, None))
    keyed_rows: int = 0  # rows with a customer id the transform extracted
    records_in: int = 0  # records the transform took in
    superseded: int = 0
    carried: int = 0
    transform_in: int = 0
    refetched_at_mark: int = 0


class _Run:
    """The incremental side of one run: fetch (with re-walks), merge, state, metadata."""

    def __init__(
        self,
        settings: Settings,
        plan: SyncPlan,
        since_text: str | None,
        scope: str,
        as_of: datetime,
        store: StateStore,
    ) -> None:
        self.settings = settings
        self.plan = plan
        self.since_text = since_text
        self.scope = scope
        self.as_of = as_of
        self.store = store
        self.watch: ServerTime | None = None
        self.frames = SnapshotFrames(settings.cursor_field, as_of, settings.rules)
        self.builder: SnapshotBuilder | None = None  # the delta's, on an incremental run
        self.delta_pages: list[tuple[int, list[Any]]] = []  # incremental: as received
        self.walks = 0
        self.mark: datetime | None = None
        self.mark_source = "server_date"
        self.requests = 0  # over every walk
        self.arrivals: list[float] = []  # clock at each page's arrival
        self.fed = 0  # records handed to the transform while fetching
        self.last_pass = 0  # the drift pass of the last page (a full fetch)
        self.last_pass_start = 0  # records fed before that pass began

    def _builder(self) -> SnapshotBuilder:
        return SnapshotBuilder(self.settings.cursor_field, self.as_of, self.settings.rules)

    def _wrapper(self, watch: ServerTime) -> Callable[[Paginator], Paginator]:
        param = self.settings.incremental_param

        def wrap(inner: Paginator) -> Paginator:
            return FilteredPaginator(inner, param=param, since=self.since_text, watch=watch)

        return wrap

    async def fetch(
        self,
        client_for: Callable[[Callable[[Paginator], Paginator], bool], Any],
        processor: CustomerDataProcessor,
        refs: RecordRefs,
        hook: Hook,
        clock: Callable[[], float],
        run_start: datetime,
    ) -> RunStats:
        """Fetch everything (full) or the delta (incremental). A delta in which a record
        shows up in two versions moved under the reader (an update sends a record to the
        end of the ``(updated_at, id)`` order and may pull a neighbour onto a page already
        read): it is walked again, without the checkpoint, until a walk is still.

        A full fetch streams every page into the transform, whose extracted columns
        become the snapshot (:class:`SnapshotFrames`); a delta is held raw until the merge.
        """
        since_us = micros(self.plan.since) if self.plan.since is not None else None
        incremental = self.plan.mode == "incremental"
        passes = self.settings.max_drift_passes + 1 if incremental else 1
        stats = RunStats()
        for walk in range(passes):
            watch = ServerTime(
                self.settings.cursor_field,
                since_us,
                self.as_of,
                self.settings.rules,
                on_start=(lambda date: self._note_start(date, run_start)) if walk == 0 else None,
            )
            builder = self.builder = self._builder() if incremental else None
            self.delta_pages = []
            client = client_for(self._wrapper(watch), walk == 0)
            async with client:
                async for page in client.iter_pages():
                    self.arrivals.append(clock())
                    if builder is not None:
                        self.delta_pages.append((page.number, page.records))
                        builder.add(page.records)
                    else:
                        if page.pass_number > self.last_pass:  # a re-walk replaces the rest
                            self.last_pass, self.last_pass_start = page.pass_number, self.fed
                        refs.add_page(page.number, page.records)
                        processor.add_batch(page.records)
                        self.fed += len(page.records)
                stats = client.stats
                assert isinstance(stats, RunStats)
                self.requests += stats.requests
            self.walks = walk + 1
            if self.watch is None or watch.ignored:
                self.watch = watch
            if builder is None or watch.ignored or not builder.moved:
                return stats
            hook(
                Event(
                    "delta_moved",
                    clock(),
                    {"walk": walk, "ids": len(builder.moved)},
                )
            )
        raise IncompleteSyncError(
            f"incremental sync incomplete: records kept changing while they were read "
            f"({self.walks} walks over the changes since {self.since_text})",
            hint="run again later, or raise max_drift_passes",
        )

    def _note_start(self, server: datetime | None, run_start: datetime) -> None:
        """The next mark: the server's Date of the first response (or the local start),
        no later than the start of an interrupted run whose pages this one reuses."""
        if server is None:
            self.mark_source = "local_clock"
            server = run_start.astimezone(UTC).replace(microsecond=0)
        self.mark = self.store.run_started(self.scope, server)

    def merge(
        self,
        saved: SyncState | None,
        processor: CustomerDataProcessor,
        refs: RecordRefs,
        hook: Hook,
        clock: Callable[[], float],
    ) -> _Outcome:
        """Hand the transform what the run fetched and (incremental) what it carries over
        from the saved snapshot: the snapshot's rows as extracted columns, no JSON."""
        builder = self.builder
        if builder is None:
            if self.last_pass_start:
                # The source's data changed while it was read and a full re-walk followed:
                # its last pass is the customer set; the passes before it are set aside
                # (a customer deleted meanwhile must not be exported).
                processor.replace_before(self.last_pass_start)
                self.frames.replace_before = self.last_pass_start
            return _Outcome(self.plan.mode, self.plan.reason, None)
        assert saved is not None
        watch = self.watch
        if watch is not None and watch.ignored:
            # Everything came back: it is a full sync's input, and is treated as one.
            hook(
                Event(
                    "incremental_param_ignored",
                    clock(),
                    {
                        "param": self.settings.incremental_param,
                        "older_records": watch.older,
                        "example": watch.example,
                    },
                )
            )
            for number, page_records in self.delta_pages:
                refs.add_page(number, page_records)
                processor.add_batch(page_records)
            reason = f"the API ignored {self.settings.incremental_param} (finished as full)"
            return _Outcome("full", reason, builder)
        import polars as pl

        delta_ids = pl.Series(KEY, list(builder.records), dtype=pl.Int64)
        carried = saved.snapshot.frame().filter(~pl.col(KEY).is_in(delta_ids.implode()))
        carried = carried.collect()
        records = decode_records(builder.records.values()) + builder.unkeyed
        # Lineage: the merged set is "page 0" (its records come from many earlier runs).
        refs.add_page(0, records, carried=(carried[KEY].to_list(), carried["email"].to_list()))
        processor.add_extracted(carried)
        chunk = 20_000
        for start in range(0, len(records), chunk):
            processor.add_batch(records[start : start + chunk])
        return _Outcome(
            "incremental",
            self.plan.reason,
            builder,
            delta_ids=delta_ids,
            carried=carried.height,
            transform_in=carried.height + len(records),
        )

    def settle(self, out: _Outcome, saved: SyncState | None, result: ProcessResult) -> None:
        """The snapshot (the transform's extracted columns, one row per id) and the counts,
        once the transform has seen every record."""
        import polars as pl

        out.records_in = result.counts.records_in
        try:
            out.snapshot = self.frames.build()
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise SinkError(
                f"cannot write the sync state's snapshot: {exc}",
                hint="free some space or choose another --state-dir; nothing was written",
            ) from exc
        out.superseded = len(out.snapshot.dropped)
        out.keyed_rows = out.snapshot.height + out.superseded
        previous = saved.snapshot if saved is not None else None
        if out.mode == "full":
            out.counts = compare_snapshots(previous, out.snapshot)
            return
        assert previous is not None
        assert saved is not None
        delta = out.snapshot.frame().filter(pl.col(KEY).is_in(out.delta_ids.implode()))
        new, updated, unchanged = snapshot_changes(previous.frame(), delta)
        out.counts = ChangeCounts(new, updated, out.carried + unchanged.len(), None)
        out.refetched_at_mark = int(unchanged.is_in(list(saved.ids_at_mark)).sum())

    def check_accounting(self, result: ProcessResult, stats: RunStats, out: _Outcome) -> None:
        c = result.counts
        # The snapshot is built from the rows the transform extracted with an id: those
        # are exactly the records it did not reject.
        snapshot_ok = out.keyed_rows == c.records_in - c.rejected - c.replaced_by_rewalk
        snapshot_ok = snapshot_ok and out.keyed_rows == out.snapshot.height + out.superseded
        b = out.builder
        if out.mode == "incremental":
            assert b is not None
            fetch_ok = b.fetched == b.kept + b.superseded + len(b.unkeyed)
            merge_ok = c.records_in == out.carried + b.kept + len(b.unkeyed) == out.transform_in
            if not (
                c.balanced and fetch_ok and merge_ok and snapshot_ok and b.fetched == stats.records
            ):
                raise AccountingError(
                    f"records do not add up: fetched {b.fetched} = kept {b.kept} + superseded "
                    f"{b.superseded} + unkeyed {len(b.unkeyed)}; transformed {c.records_in} = "
                    f"carried {out.carried} + kept {b.kept} + unkeyed {len(b.unkeyed)}; "
                    f"exported {c.exported} + merged {c.duplicates_merged} + rejected "
                    f"{c.rejected}; snapshot {out.snapshot.height} + superseded "
                    f"{out.superseded} = {out.keyed_rows} rows with an id",
                    hint="this is a bug; please report it with the run's log",
                )
            return
        _check_accounting(result, stats)
        if not snapshot_ok:
            raise AccountingError(
                f"records do not add up: {out.keyed_rows} rows with an id = snapshot "
                f"{out.snapshot.height} + superseded {out.superseded}, and = records in "
                f"{c.records_in} - rejected {c.rejected}",
                hint="this is a bug; please report it with the run's log",
            )

    def next_state(
        self, identity: StateIdentity, saved: SyncState | None, out: _Outcome, run_id: str
    ) -> SyncState:
        """The state to save: its ``run_id`` is the output's, so a reader can tell that a
        state and an output set belong together."""
        import polars as pl

        mark = self.mark or datetime.now(UTC).replace(microsecond=0)
        full = out.mode == "full"
        salt = saved.salt if saved is not None else SyncState.new_salt()
        since_next = micros(mark - timedelta(seconds=self.settings.lookback))
        settings = self.settings
        at_mark = (
            cursor_expr(
                out.snapshot.frame().select(KEY, cursor_column(settings.cursor_field)),
                settings.cursor_field,
                self.as_of,
                settings.rules,
            )
            .filter(pl.col("_cursor") >= since_next)
            .collect()[KEY]
            .sort()
        )
        return SyncState(
            source=identity.source,
            incremental_param=identity.incremental_param,
            cursor_field=identity.cursor_field,
            salt=salt,
            credentials=identity.digest(salt),
            mark=mark,
            mark_source=self.mark_source,
            last_full_sync_at=mark if full or saved is None else saved.last_full_sync_at,
            run_id=run_id,
            ids_at_mark=tuple(at_mark.cast(pl.Int64).to_list()),
            snapshot=out.snapshot,
        )

    def metadata(self, saved: SyncState | None, out: _Outcome) -> dict[str, Any]:
        b = out.builder
        new_mark = self.mark
        accounting: dict[str, Any] = {
            "fetched": b.fetched if b is not None else out.records_in,
            "kept": b.kept if b is not None else out.snapshot.height,
            "superseded": b.superseded if b is not None else out.superseded,
            "unkeyed": len(b.unkeyed) if b is not None else out.records_in - out.keyed_rows,
            "carried": out.carried,
            "snapshot_size": out.snapshot.height,
        }
        return {
            "mode": out.mode,
            "requested_mode": self.settings.sync_mode,
            "reason": out.reason,
            "mark_used": format_mark(saved.mark) if saved and self.plan.since else None,
            "since": self.since_text,
            "lookback_seconds": self.settings.lookback,
            "new_mark": format_mark(new_mark) if new_mark else None,
            "mark_source": self.mark_source,
            "customers": out.counts.as_dict(),
            "deleted_ids": list(out.counts.deleted_ids[:100]),
            "refetched_at_mark": out.refetched_at_mark,
            "param_ignored": bool(self.watch and self.watch.ignored),
            "walks": self.walks,
            "requests_all_walks": self.requests,
            "accounting": accounting,
        }


def _simulator_label(settings: Settings) -> str | None:
    """The checkpoint's source for the built-in simulator, whose port changes every run."""
    if settings.api_url is not None:
        return None
    return f"built-in simulator (customers={settings.sim_customers}, seed={settings.sim_seed})"


def _stdout() -> BinaryIO:
    import sys

    return sys.stdout.buffer


def _counts(result: ProcessResult) -> dict[str, int]:
    c = result.counts
    return {
        "records_in": c.records_in,
        "exported": c.exported,
        "duplicates_merged": c.duplicates_merged,
        "rejected": c.rejected,
    }


def _check_accounting(result: ProcessResult, stats: RunStats) -> None:
    c = result.counts
    if not c.balanced or c.records_in != stats.records:
        raise AccountingError(
            f"records do not add up: fetched {stats.records}, processed {c.records_in}, "
            f"exported {c.exported} + merged {c.duplicates_merged} + rejected {c.rejected} "
            f"+ replaced by a re-walk {c.replaced_by_rewalk}",
            hint="this is a bug; please report it with the run's log",
        )


def _metadata(
    settings: Settings,
    result: ProcessResult,
    stats: RunStats,
    base_url: str,
    simulated: bool,
    as_of: datetime,
    durations: dict[str, float],
) -> dict[str, Any]:
    c = result.counts
    return {
        "as_of": format_timestamp(as_of),
        "source": {
            "url": mask_url(base_url),
            "simulated": simulated,
            "per_page": stats.per_page or settings.max_per_page,  # what the API granted
        },
        "records_fetched": c.records_in,
        "duplicates_merged": c.duplicates_merged,
        "records_rejected": c.rejected,
        "accounting": {
            **_counts(result),
            "replaced_by_rewalk": c.replaced_by_rewalk,
            "balanced": c.balanced,
        },
        "run_stats": stats.as_dict(),
        "summary": summary_report(result.frame, settings.rules),
        "data_quality_details": result.quality_details(),
        "source_field_coverage": result.field_coverage(),
        "pipeline_version": __version__,
        "stage_durations_seconds": {k: round(v, 3) for k, v in durations.items()},
    }
