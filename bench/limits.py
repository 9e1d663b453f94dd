"""Scenarios C and D: APIs that behave unlike our simulator's defaults.

* **C, a header-less limiter**: 10,000 customers, 25 per page, 40 req/s (burst 10), 429s
  carrying only a ``Retry-After`` (in mixed forms), no latency, 10% 5xx faults. The
  server's own per-second counts (``/_stats`` timeline) show the rate it let through;
  the retry-aware lower bound is ``(pages + faulted attempts - burst) / rate``.
* **D, page size**: the same 10,000 customers from an API granting up to 100 per page;
  our defaults (``per_page`` auto) against ``--per-page 6``. No faults, no limit.

A fresh simulator process per run, as in Scenario A.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .config import HeaderlessParams, PageSizeParams
from .contenders import Contender, FetchResult, Target
from .simulator_proc import ServerStats, SimSpec, SimulatorError, SimulatorProcess

__all__ = [
    "LimitRun",
    "Run",
    "run_header_less",
    "run_page_size",
    "sustained_rate",
]

Log = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Run:
    """One contender run and the server's counts for it."""

    key: str
    label: str
    result: FetchResult
    server: ServerStats | None


@dataclass(frozen=True, slots=True)
class LimitRun:
    runs: tuple[Run, ...]
    skipped: tuple[tuple[str, str], ...]  # (label, why)


def sustained_rate(timeline: Sequence[tuple[int, int]]) -> float | None:
    """Requests let through per second, over the whole seconds while pages remained
    (every second but the last, which is partial)."""
    full = timeline[:-1]
    if not full:
        return None
    return sum(through for through, _ in full) / len(full)


def _once(
    contender: Contender, spec: SimSpec, target: Callable[[str], Target], repo_root: Path,
    module: str, workdir: Path,
) -> tuple[FetchResult, ServerStats | None]:
    try:
        with SimulatorProcess(spec, repo_root, module=module) as sim:
            before = sim.stats()
            result = contender.run(target(sim.base_url), workdir)
            return result, sim.stats() - before
    except SimulatorError as exc:
        return FetchResult.failed(f"simulator: {exc}"), None


def _run_all(
    plan: Sequence[tuple[str, Contender, Callable[[str], Target]]],
    spec: SimSpec,
    repeat: int,
    repo_root: Path,
    module: str,
    log: Log,
    name: str,
) -> LimitRun:
    runs: list[Run] = []
    skipped: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        for label, contender, target in plan:
            why = contender.unavailable()
            if why is not None:
                skipped.append((label, why))
                continue
            for rep in range(repeat):
                log(f"{name.upper()}: {label} run {rep + 1}/{repeat}")
                workdir = Path(tmp) / f"{contender.key}-{len(runs)}"
                result, server = _once(contender, spec, target, repo_root, module, workdir)
                log(f"{name.upper()}: {label} -> {result.status}, {result.wall_seconds}")
                runs.append(Run(contender.key, label, result, server))
    return LimitRun(tuple(runs), tuple(skipped))


def run_header_less(
    params: HeaderlessParams,
    contenders: Sequence[Contender],
    *,
    seed: int,
    repeat: int,
    repo_root: Path,
    module: str,
    log: Log,
) -> LimitRun:
    def target(url: str) -> Target:
        return Target(url, params.per_page, params.customers)

    plan = [(c.label, c, target) for c in contenders]
    return _run_all(plan, params.sim_spec(seed), repeat, repo_root, module, log, "c")


def run_page_size(
    params: PageSizeParams,
    ours: Contender,
    others: Sequence[Contender],
    *,
    seed: int,
    repeat: int,
    repo_root: Path,
    module: str,
    log: Log,
) -> LimitRun:
    def small(url: str) -> Target:
        return Target(url, params.small, params.customers)

    def auto(url: str) -> Target:
        return Target(url, params.small, params.customers, use_default_page_size=True)

    plan: list[tuple[str, Contender, Callable[[str], Target]]] = [
        ("Our pipeline, defaults (per_page auto)", ours, auto),
        (f"Our pipeline, --per-page {params.small}", ours, small),
        *((f"{c.label} (per_page {params.small})", c, small) for c in others),
    ]
    return _run_all(plan, params.sim_spec(seed), repeat, repo_root, module, log, "d")
