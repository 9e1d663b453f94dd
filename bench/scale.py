"""Scenario B: scale. End to end at growing N, and the transform alone against a floor.

End to end: a simulator process with no faults, no latency and the largest page size,
and our pipeline in another process, whose peak RSS comes from ``os.wait4``. Before each
pipeline run the same simulator process serves every page once to a bare fetch loop
(:func:`bench.simulator_throughput.fetch_all`, 8 connections, orjson): the floor, the
simulator's own serving rate on this machine at this moment. The pipeline's rate is
reported as a ratio to it, with the pipeline's phases (from its metadata) apart.
``python -m bench --scenario b --sizes 1000000,10000000`` is the issue #16 run (minutes
long; the transform-only table skips sizes above ``TRANSFORM_ONLY_MAX``).
Transform only: a worker process per run parses a generated file with orjson (the
floor) and transforms the records; it too is measured per process, so RSS is per size.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from .config import BenchConfig
from .contenders import FetchResult, OurPipeline, Target
from .dataset_file import AS_OF, ensure_dataset
from .destinations import DestinationRun, SinkTimes, run_destinations, run_sink_times
from .procs import child_env, run_measured
from .simulator_proc import SimulatorError, SimulatorProcess
from .simulator_throughput import fetch_all

__all__ = [
    "TRANSFORM_ONLY_MAX",
    "EndToEnd",
    "Phases",
    "ScaleRun",
    "TransformAttempt",
    "TransformOnly",
    "run_scale",
    "transform_missing",
]

Log = Callable[[str], None]

#: The transform-only worker parses the whole file at once (about 2.6 KiB per record:
#: 26 GiB at 10M), so larger sizes are measured end to end only, where pages stream.
TRANSFORM_ONLY_MAX = 2_000_000
_FLOOR_CONNECTIONS = 8
#: Where the metadata ends in the sink's layout (a nested "customers" key can come before).
_CUSTOMERS_KEY = b'\n  "customers": ['


@dataclass(frozen=True, slots=True)
class Phases:
    """One pipeline run as its metadata tells it, beside the floor measured just before."""

    floor_records_per_second: float | None  # the simulator serving a bare fetch loop
    fetch_seconds: float | None  # fetch, with the streaming extraction of each page
    finish_seconds: float | None  # the transform's tail: derive, dedup, sort, quality
    checkpoint_json_bytes: int | None
    checkpoint_stored_bytes: int | None


@dataclass(frozen=True, slots=True)
class EndToEnd:
    size: int
    attempts: tuple[FetchResult, ...]
    skipped: str | None = None
    phases: tuple[Phases, ...] = ()


@dataclass(frozen=True, slots=True)
class TransformAttempt:
    ok: bool
    note: str = ""
    records: int = 0
    parse_seconds: float = 0.0
    transform_seconds: float = 0.0
    peak_rss_bytes: int = 0
    baseline_rss_bytes: int = 0
    exported: int = 0

    @property
    def total_seconds(self) -> float:
        return self.parse_seconds + self.transform_seconds


@dataclass(frozen=True, slots=True)
class TransformOnly:
    size: int
    attempts: tuple[TransformAttempt, ...]
    skipped: str | None = None


@dataclass(frozen=True, slots=True)
class ScaleRun:
    end_to_end: tuple[EndToEnd, ...]
    transform: tuple[TransformOnly, ...]
    destinations: tuple[DestinationRun, ...] = ()
    sinks: SinkTimes | None = None


def transform_missing() -> str | None:
    try:
        found = importlib.util.find_spec("customer_sync.transform") is not None
    except ImportError as exc:
        return f"not available ({exc})"
    return None if found else "not available (no customer_sync.transform yet)"


def _metadata_head(path: Path) -> dict[str, Any]:
    """The output's metadata, read from the head of the file only (it comes first)."""
    head = b""
    with path.open("rb") as fh:
        while _CUSTOMERS_KEY not in head and (chunk := fh.read(1 << 20)):
            head += chunk
    if _CUSTOMERS_KEY not in head:
        return {}
    document: dict[str, Any] = orjson.loads(head[: head.index(_CUSTOMERS_KEY)].rstrip(b",") + b"}")
    metadata: dict[str, Any] = document.get("metadata") or {}
    return metadata


def _phases(floor: float | None, output: Path) -> Phases:
    try:
        metadata = _metadata_head(output)
    except (OSError, orjson.JSONDecodeError):
        metadata = {}
    stages = metadata.get("stage_durations_seconds") or {}
    checkpoint = metadata.get("checkpoint") or {}
    return Phases(
        floor_records_per_second=floor,
        fetch_seconds=stages.get("fetch_and_transform"),
        finish_seconds=stages.get("finish_transform"),
        checkpoint_json_bytes=checkpoint.get("json_bytes"),
        checkpoint_stored_bytes=checkpoint.get("stored_bytes"),
    )


def _floor(base_url: str, per_page: int, size: int) -> float | None:
    """Records per second the simulator serves to a bare fetch loop (no checkpoint, no
    transform): the fastest any client could go on this machine now."""
    pages = -(-size // per_page)
    try:
        result = asyncio.run(fetch_all(base_url, per_page, pages, _FLOOR_CONNECTIONS))
    except (OSError, httpx.HTTPError):
        return None
    return result.records_per_second if result.records == size else None


def _end_to_end(config: BenchConfig, size: int, tmp: Path, log: Log) -> EndToEnd:
    ours = OurPipeline(config.repo_root, timeout=config.timeout)
    if (why := ours.unavailable()) is not None:
        return EndToEnd(size, (), why)
    spec = config.scale.sim_spec(size, config.seed)
    attempts = []
    phases = []
    for rep in range(config.repeat):
        log(f"B: end to end, {size:,} customers, run {rep + 1}/{config.repeat}")
        floor = None
        workdir = tmp / f"e2e-{size}-{rep}"
        try:
            with SimulatorProcess(spec, config.repo_root, module=config.simulator_module) as sim:
                floor = _floor(sim.base_url, config.scale.per_page, size)
                log(f"B: floor (the simulator serving a bare fetch loop): {floor or 0:,.0f} rec/s")
                target = Target(sim.base_url, config.scale.per_page, size)
                result = ours.run(target, workdir)
        except SimulatorError as exc:
            result = FetchResult.failed(f"simulator: {exc}")
        log(f"B: -> {result.status}, {result.records} records, {result.wall_seconds} s")
        attempts.append(result)
        phases.append(_phases(floor, workdir / "output.json"))
        (workdir / "output.json").unlink(missing_ok=True)  # 2+ GB at 10M
    return EndToEnd(size, tuple(attempts), phases=tuple(phases))


def _transform_once(config: BenchConfig, data: Path, workdir: Path) -> TransformAttempt:
    argv = [sys.executable, "-m", "bench.transform_worker", str(data), "--as-of", AS_OF.isoformat()]
    proc = run_measured(argv, cwd=workdir, env=child_env(config.repo_root), timeout=config.timeout)
    if not proc.ok:
        return TransformAttempt(ok=False, note=f"exit {proc.returncode}: {proc.tail()}")
    try:
        report = orjson.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, orjson.JSONDecodeError):
        return TransformAttempt(ok=False, note=f"no report: {proc.tail()}")
    return TransformAttempt(
        ok=True,
        note="" if report["balanced"] else "counts do not balance",
        records=report["records"],
        parse_seconds=report["parse_seconds"],
        transform_seconds=report["transform_seconds"],
        peak_rss_bytes=report.get("peak_rss_bytes", proc.peak_rss_bytes),
        baseline_rss_bytes=report["baseline_rss_bytes"],
        exported=report["exported"],
    )


def _transform_only(config: BenchConfig, size: int, tmp: Path, log: Log) -> TransformOnly:
    if (why := transform_missing()) is not None:
        return TransformOnly(size, (), why)
    if size > TRANSFORM_ONLY_MAX:
        return TransformOnly(
            size, (), f"skipped: parsing {size:,} records at once needs about 2.6 KiB each"
        )
    log(f"B: transform, {size:,} records: preparing the raw file")
    data = ensure_dataset(config.data_dir, config.repo_root, size, config.seed)
    attempts = []
    for rep in range(config.repeat):
        log(f"B: transform, {size:,} records, run {rep + 1}/{config.repeat}")
        attempt = _transform_once(config, data, tmp / f"transform-{size}-{rep}")
        log(f"B: -> ok={attempt.ok} {attempt.total_seconds:.2f} s {attempt.note}")
        attempts.append(attempt)
    return TransformOnly(size, tuple(attempts))


def run_scale(config: BenchConfig, log: Log) -> ScaleRun:
    with tempfile.TemporaryDirectory(prefix="bench-b-") as name:
        tmp = Path(name)
        if config.scenario == "destinations":
            return ScaleRun(
                (), (), run_destinations(config, tmp, log), run_sink_times(config, log)
            )
        e2e = tuple(_end_to_end(config, size, tmp, log) for size in config.scale.e2e_sizes)
        transform = tuple(
            _transform_only(config, size, tmp, log) for size in config.scale.transform_sizes
        )
        destinations = run_destinations(config, tmp, log)
        sinks = run_sink_times(config, log)
    return ScaleRun(e2e, transform, destinations, sinks)
