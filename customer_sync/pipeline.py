"""Orchestration: source -> transform -> sink, for one run.

The pipeline owns the order of things and the accounting; the pieces own the work:
the client fetches pages (with retries, rate limits, drift checks and the checkpoint),
the processor turns raw records into customers as pages arrive, and the sink writes
everything atomically. Hooks observe; nothing here prints.
"""

from __future__ import annotations

import asyncio
import contextlib
import random as random_module
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from . import __version__
from .checkpoint import Checkpoint
from .config import Settings
from .errors import AccountingError, PipelineError, RequiredFieldsMissing
from .events import Hook, null_hook
from .exporter import DataExporter, format_timestamp
from .lineage import RecordRefs
from .models import Event, ProcessResult, RunStats
from .quality import metadata_warnings, unmet_requirements
from .redaction import mask_url
from .report import check_report_writable, report_part
from .sink.base import Sink, SinkReport
from .sink.json_file import JsonFileSink, JsonStreamSink, new_run_id
from .sink.output_set import PartBuilder
from .sink.summary import summary_report
from .source import CustomerAPIClient
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
) -> RunReport:
    """Run one sync. Raises :class:`PipelineError` subclasses for expected failures.

    ``transport``, ``sleep``, ``wall_clock`` and ``random`` are the client's injected edges
    (tests pass an in-process transport and fake time); ``clock`` drives both the stage
    durations and the client. Ctrl-C anywhere between the first request and the end of the
    export raises :class:`Interrupted`: the checkpoint is kept and the previous output is
    intact.

    ``--output -`` writes the document to ``stdout`` (a binary stream) with no side files;
    ``sink`` replaces the default sink altogether (tests inject faults through it).
    """
    started = clock()
    durations: dict[str, float] = {}
    as_of = settings.resolved_as_of(now())
    run_id = new_run_id()
    refs = RecordRefs(match_email=settings.match_email)
    if sink is None:
        sink = (
            JsonStreamSink(stdout if stdout is not None else _stdout())
            if settings.writes_to_stdout
            else JsonFileSink(
                settings.output, lineage=refs.explain, extra_parts=_report_parts(settings)
            )
        )
    checkpoint = Checkpoint(
        settings.checkpoint_dir,
        max_age_seconds=settings.checkpoint_max_age_hours * 3600,
        fresh=settings.fresh,
        hook=hook,
        clock=clock,
        wall=now,
        source_label=_simulator_label(settings),
        credentials=settings.secret_values(),
    )
    sink.check_writable()  # fail before any fetching
    if settings.report_path is not None:
        check_report_writable(settings.report_path)
    checkpoint.check_writable()
    if not settings.verify_tls:
        hook(Event("tls_verification_disabled", clock(), {}))

    processor = CustomerDataProcessor(rules=settings.rules, as_of=as_of)
    try:
        with _source_url(settings, hook, clock) as (base_url, simulated):
            client = CustomerAPIClient(
                base_url,
                api_key=settings.api_key,
                settings=settings.client,
                transport=transport,
                sleep=sleep,
                clock=clock,
                wall_clock=wall_clock,
                random=random,
                hook=hook,
                page_store=checkpoint,
            )
            stats, arrivals = asyncio.run(_fetch_and_transform(client, processor, refs, clock))
        durations["fetch_and_transform"] = clock() - started

        mark = clock()
        hook(Event("transform_finishing", clock(), {"records": stats.records}))
        result = processor.finish()
        durations["finish_transform"] = clock() - mark
        _check_accounting(result, stats)
        hook(Event("processed", clock(), _counts(result)))

        mark = clock()
        # Built once: the file and the run's report carry the very same object.
        metadata = DataExporter(settings.rules, now=now).build_metadata(
            result.frame,
            {
                "run_id": run_id,
                **_metadata(settings, result, stats, base_url, simulated, as_of, durations),
            },
        )
        metadata["run_stats"]["page_timeline"] = page_timeline(arrivals, started)
        # Read off the metadata above, so the JSON, the report and stderr say the same.
        metadata["source_field_warnings"] = metadata_warnings(metadata)
        _warn_and_require(settings, metadata, hook, clock)  # before any file is touched
        sink_report = sink.write(result, metadata)
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
    checkpoint.clear()
    durations["total"] = clock() - started
    hook(Event("exported", clock(), {"output": sink_report.target, **_counts(result)}))
    return RunReport(result, stats, sink_report, metadata, durations, settings.report_path)


def _report_parts(settings: Settings) -> list[PartBuilder]:
    """The HTML report as one more file of the output set (none with ``--no-report``)."""
    return [] if settings.report_path is None else [report_part(settings.report_path)]


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


def _simulator_label(settings: Settings) -> str | None:
    """The checkpoint's source for the built-in simulator, whose port changes every run."""
    if settings.api_url is not None:
        return None
    return f"built-in simulator (customers={settings.sim_customers}, seed={settings.sim_seed})"


def _stdout() -> BinaryIO:
    import sys

    return sys.stdout.buffer


async def _fetch_and_transform(
    client: CustomerAPIClient,
    processor: CustomerDataProcessor,
    refs: RecordRefs,
    clock: Callable[[], float],
) -> tuple[RunStats, list[float]]:
    """Fetch and transform; also the clock reading at each page's arrival."""
    arrivals: list[float] = []
    async with client:
        async for page in client.iter_pages():
            arrivals.append(clock())
            refs.add_page(page.number, page.records)
            processor.add_batch(page.records)
        return client.stats, arrivals


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
            f"exported {c.exported} + merged {c.duplicates_merged} + rejected {c.rejected}",
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
        "accounting": {**_counts(result), "balanced": c.balanced},
        "run_stats": stats.as_dict(),
        "summary": summary_report(result.frame, settings.rules),
        "data_quality_details": result.quality_details(),
        "source_field_coverage": result.field_coverage(),
        "pipeline_version": __version__,
        "stage_durations_seconds": {k: round(v, 3) for k, v in durations.items()},
    }
