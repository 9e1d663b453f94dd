"""Scenario A: every contender fetches every record from a slow, rate-limited, faulty API.

Each run gets a fresh simulator process, so every contender meets the same fault sequence
and a full token bucket. Requests, 429s and faults are the server's own counts
(``/_stats`` after minus before). Repetitions are interleaved (rotating the order) so
that background load on the machine spreads over all contenders alike.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .config import BenchConfig
from .contenders import Contender, FetchResult, Target
from .simulator_proc import ServerStats, SimulatorError, SimulatorProcess

__all__ = ["ContenderRuns", "SlowApiRun", "run_slow_api"]

Log = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Attempt:
    result: FetchResult
    server: ServerStats | None


@dataclass(frozen=True, slots=True)
class ContenderRuns:
    key: str
    label: str
    attempts: tuple[Attempt, ...]
    skipped: str | None = None  # why the contender did not run at all


@dataclass(frozen=True, slots=True)
class SlowApiRun:
    expected_records: int
    pages: int
    lower_bound_seconds: float | None
    contenders: tuple[ContenderRuns, ...]


def _once(contender: Contender, config: BenchConfig, workdir: Path) -> Attempt:
    params = config.slow_api
    spec = params.sim_spec(config.seed)
    try:
        with SimulatorProcess(spec, config.repo_root, module=config.simulator_module) as sim:
            target = Target(sim.base_url, params.per_page, spec.customers)
            before = sim.stats()
            result = contender.run(target, workdir)
            server = sim.stats() - before
    except SimulatorError as exc:
        return Attempt(FetchResult.failed(f"simulator: {exc}"), None)
    return Attempt(result, server)


def run_slow_api(config: BenchConfig, contenders: Sequence[Contender], log: Log) -> SlowApiRun:
    params = config.slow_api
    ready = [c for c in contenders if c.unavailable() is None]
    attempts: dict[str, list[Attempt]] = {c.key: [] for c in ready}
    with tempfile.TemporaryDirectory(prefix="bench-a-") as tmp:
        for rep in range(config.repeat):
            shift = rep % len(ready) if ready else 0
            for contender in [*ready[shift:], *ready[:shift]]:
                log(f"A: {contender.key} run {rep + 1}/{config.repeat}")
                workdir = Path(tmp) / f"{contender.key}-{rep}"
                attempt = _once(contender, config, workdir)
                log(f"A: {contender.key} -> {_brief(attempt.result)}")
                attempts[contender.key].append(attempt)
    runs = tuple(
        ContenderRuns(c.key, c.label, tuple(attempts.get(c.key, ())), c.unavailable())
        for c in contenders
    )
    return SlowApiRun(
        expected_records=params.customers,
        pages=params.pages,
        lower_bound_seconds=params.lower_bound_seconds,
        contenders=runs,
    )


def _brief(result: FetchResult) -> str:
    wall = f"{result.wall_seconds:.2f} s" if result.wall_seconds is not None else "–"
    return f"{result.status}, {result.records} records, {wall} {result.note}".rstrip()
