"""Scenario B, destinations: 1,000,000 customers end to end into each destination, against
the JSON-only run, in the same conditions (one simulator process for all of them).

Each row is ``python -m src.main`` with ``--destination json:… --destination X``; the
extra time over the JSON-only row is what loading X costs. The database paths are kept
across repetitions, so the first run loads an empty table and the next ones upsert into
a full one (the steady state of a daily sync). PostgreSQL is a private, durable server
(Debian's package, default settings, fsync on) started for the benchmark on loopback.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .config import BenchConfig
from .contenders import FetchResult, OurPipeline, Target
from .simulator_proc import SimulatorError, SimulatorProcess
from .summary import Spread, fmt_ratio, fmt_seconds, spread

__all__ = [
    "DestinationRun",
    "SinkTimes",
    "render_destinations",
    "run_destinations",
    "run_sink_times",
]

Log = Callable[[str], None]

KINDS = ("json", "duckdb", "parquet", "postgresql")
LABELS = {
    "json": "JSON only (the default)",
    "duckdb": "JSON + DuckDB",
    "parquet": "JSON + Parquet",
    "postgresql": "JSON + PostgreSQL",
}


@dataclass(frozen=True, slots=True)
class SinkTimes:
    """Seconds each sink's write took, in one process on one result (``bench/sink_worker``)."""

    customers: int
    times: dict[str, dict[str, list[float]]]
    note: str = ""


@dataclass(frozen=True, slots=True)
class DestinationRun:
    kind: str
    size: int
    attempts: tuple[FetchResult, ...]
    skipped: str | None = None

    @property
    def wall(self) -> Spread | None:
        return spread(a.wall_seconds for a in self.attempts
                      if a.status == "ok" and a.wall_seconds is not None)


def _destination(kind: str, root: Path, pg_url: str | None) -> list[str]:
    if kind == "json":
        return []
    if kind == "postgresql":
        assert pg_url is not None
        return ["--destination", f"{pg_url}?schema=bench"]
    path = root / ("customers.duckdb" if kind == "duckdb" else "lake")
    return ["--destination", f"{kind}:{path}"]


def run_destinations(config: BenchConfig, tmp: Path, log: Log) -> tuple[DestinationRun, ...]:
    size = config.scale.destination_size or max(config.scale.e2e_sizes)
    ours = OurPipeline(config.repo_root, timeout=config.timeout)
    if (why := ours.unavailable()) is not None:
        return tuple(DestinationRun(kind, size, (), why) for kind in KINDS)
    sys.path.insert(0, str(config.repo_root))
    from tests.postgres_server import PostgresServer, ServerUnavailable

    attempts: dict[str, list[FetchResult]] = {kind: [] for kind in KINDS}
    spec = config.scale.sim_spec(size, config.seed)
    root = tmp / "destinations"
    root.mkdir(parents=True, exist_ok=True)
    try:
        with PostgresServer(durable=True) as pg, SimulatorProcess(
            spec, config.repo_root, module=config.simulator_module
        ) as sim:
            target = Target(sim.base_url, config.scale.per_page, size)
            for rep in range(config.repeat):
                for kind in KINDS:
                    log(f"B: destinations, {size:,} customers, {kind}, run {rep + 1}")
                    workdir = root / f"{kind}-{rep}"
                    workdir.mkdir()
                    result = ours.run(
                        target, workdir, extra_args=(
                            "--destination", f"json:{workdir / 'output.json'}",
                            *_destination(kind, root, pg.url),
                        )
                    )
                    log(f"B: -> {result.status} {result.wall_seconds} s {result.note}")
                    attempts[kind].append(result)
    except (SimulatorError, ServerUnavailable) as exc:
        return tuple(DestinationRun(kind, size, (), f"did not run: {exc}") for kind in KINDS)
    return tuple(DestinationRun(kind, size, tuple(attempts[kind])) for kind in KINDS)


def run_sink_times(config: BenchConfig, log: Log) -> SinkTimes:
    """Each sink alone on the same 1M result: robust to the machine's other load, which
    makes whole-process differences of a few seconds noise."""
    size = config.scale.destination_size or max(config.scale.e2e_sizes)
    sys.path.insert(0, str(config.repo_root))
    from tests.postgres_server import PostgresServer, ServerUnavailable

    from .procs import child_env, run_measured

    log(f"B: sinks alone, {size:,} customers")
    try:
        with PostgresServer(durable=True) as pg, tempfile.TemporaryDirectory() as workdir:
            proc = run_measured(
                [sys.executable, "-m", "bench.sink_worker", str(size), "--postgres", pg.url,
                 "--repeat", str(config.repeat), "--seed", str(config.seed)],
                cwd=Path(workdir), env=child_env(config.repo_root), timeout=config.timeout,
            )
    except ServerUnavailable as exc:
        return SinkTimes(size, {}, f"did not run: {exc}")
    if not proc.ok:
        return SinkTimes(size, {}, f"exit {proc.returncode}: {proc.tail()}")
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    return SinkTimes(size, report["times"])


def _extra(run: DestinationRun, base: DestinationRun) -> tuple[Spread | None, Spread | None]:
    """Extra seconds over JSON-only, and the ratio, paired run by run (same repetition)."""
    pairs = [
        (a.wall_seconds, b.wall_seconds)
        for a, b in zip(run.attempts, base.attempts, strict=False)
        if a.status == b.status == "ok" and a.wall_seconds and b.wall_seconds
    ]
    return spread(a - b for a, b in pairs), spread(a / b for a, b in pairs)


def _signed(value: Spread | None) -> str:
    if value is None:
        return "–"
    return f"{value.median:+.2f} s ({value.low:+.2f}–{value.high:+.2f})"


def render_sink_times(sinks: SinkTimes | None, runs: Sequence[DestinationRun]) -> list[str]:
    """Sink-only seconds, and the end-to-end estimate: JSON-only wall time + the sink."""
    if sinks is None:
        return []
    if not sinks.times:
        return [f"Sinks alone: {sinks.note}", ""]
    base = runs[0].wall if runs else None
    rows = []
    for kind in KINDS:
        phases = sinks.times.get(kind, {})
        first, again = spread(phases.get("first", [])), spread(phases.get("again", []))
        estimate = "–"
        if base is not None and kind != "json" and first and again:
            estimate = (f"{(base.median + first.median) / base.median:.2f}× / "
                        f"{(base.median + again.median) / base.median:.2f}×")
        rows.append(f"| {kind} | {fmt_seconds(first)} | {fmt_seconds(again)} | {estimate} |")
    lines = [
        f"#### The sinks alone: {sinks.customers:,} generated customers, transformed once",
        "",
        "`python -m bench.sink_worker` times each sink's `write` of the same result in one "
        "process, interleaved, each repetition into new tables: a first load into empty "
        "tables, then a re-sync of the same customers into the full ones. The JSON row is "
        "the default output itself (its time is already inside the JSON-only wall time). "
        "Estimated end to end = (JSON-only median wall time + the sink) ÷ JSON-only.",
        "",
        "| Sink | First load | Re-sync into full tables "
        "| Estimated end to end, × JSON only (first / re-sync) |",
        "| --- | --- | --- | --- |",
        *rows,
        "",
    ]
    return lines


def render_destinations(
    runs: Sequence[DestinationRun], sinks: SinkTimes | None = None
) -> list[str]:
    if not runs:
        return []
    base = runs[0]
    rows = []
    for run in runs:
        extra, ratio = _extra(run, base)
        notes = "; ".join(sorted({a.note for a in run.attempts if a.note}))[:200]
        records = sorted({a.records for a in run.attempts if a.records is not None})
        rows.append(
            "| " + " | ".join([
                LABELS[run.kind],
                fmt_seconds(run.wall),
                "–" if run.kind == "json" else _signed(extra),
                "1.00×" if run.kind == "json" else fmt_ratio(ratio),
                ", ".join(f"{r:,}" for r in records) or "–",
                run.skipped or notes,
            ]) + " |"
        )
    size = base.size
    lines = [
        f"### Destinations: {size:,} customers end to end into each destination",
        "",
        "`python -m src.main --destination json:… --destination X`, one simulator process "
        "for all rows, repetitions interleaved (JSON, DuckDB, Parquet, PostgreSQL, then "
        "again). Database paths are kept across repetitions: the first run loads empty "
        "tables, the next ones upsert into full ones. PostgreSQL: a private durable server "
        "(Debian's PostgreSQL, default settings) on loopback, on the same 2 CPUs. Extra "
        "time is paired by repetition.",
        "",
        "| Destinations | Wall time | Extra over JSON only | × JSON only | Records | Notes |",
        "| --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
        *render_sink_times(sinks, runs),
        "Targets (end to end, paired by repetition):",
        "",
    ]
    by_kind = {run.kind: run for run in runs}
    for kind in ("duckdb", "parquet"):
        _, ratio = _extra(by_kind[kind], base)
        ok = ratio is not None and ratio.median <= 1.25
        lines.append(
            f"- {'✅' if ok else '❌'} {LABELS[kind]} adds at most 25% to the end-to-end "
            f"time: {fmt_ratio(ratio)}"
        )
    extra, _ = _extra(by_kind["postgresql"], base)
    ok = extra is not None and extra.median <= 30
    lines.append(
        f"- {'✅' if ok else '❌'} PostgreSQL loads {size:,} customers in at most 30 s "
        f"(extra over JSON only): {_signed(extra)}"
    )
    return lines
