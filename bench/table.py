"""Render a benchmark run as markdown: the machine, Scenario A, Scenario B, the targets.

Pure functions from results to text; nothing here measures or prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .config import BenchConfig
from .contenders import FetchResult
from .destinations import render_destinations
from .limits import LimitRun, Run, sustained_rate
from .machine import Machine
from .scale import EndToEnd, Phases, ScaleRun, TransformOnly
from .slow_api import ContenderRuns, SlowApiRun
from .summary import Spread, fmt_bytes, fmt_ratio, fmt_seconds, spread, spread_of

__all__ = ["Report", "render"]

PASS, FAIL = "✅", "❌"
GROWTH_TOLERANCE = 1.25  # per-record memory may vary this much between sizes


@dataclass(frozen=True, slots=True)
class Report:
    config: BenchConfig
    machine: Machine
    command: str
    started_at: str
    slow_api: SlowApiRun | None
    scale: ScaleRun | None
    header_less: LimitRun | None = None
    page_size: LimitRun | None = None


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return [line(header), line(["---"] * len(header)), *(line(r) for r in rows)]


def _n(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def _range(values: Sequence[int | None]) -> str:
    known = [v for v in values if v is not None]
    if not known:
        return "–"
    low, high = min(known), max(known)
    return f"{low:,}" if low == high else f"{low:,}–{high:,}"


def _check(ok: bool | None) -> str:
    return "–" if ok is None else (PASS if ok else FAIL)


# --- Scenario A -------------------------------------------------------------------------


def _wall(runs: ContenderRuns) -> Spread | None:
    return spread(
        a.result.wall_seconds
        for a in runs.attempts
        if a.result.status == "ok" and a.result.wall_seconds is not None
    )


def _slow_api_rows(run: SlowApiRun) -> list[list[str]]:
    ours = next((_wall(c) for c in run.contenders if c.key == "ours"), None)
    rows = []
    for c in run.contenders:
        if c.skipped is not None or not c.attempts:
            rows.append([c.label, c.skipped or "did not run", *["–"] * 9])
            continue
        wall = _wall(c)
        bound = run.lower_bound_seconds
        results = [a.result for a in c.attempts]
        servers = [a.server for a in c.attempts if a.server is not None]
        notes = sorted({r.note for r in results if r.note})
        failed = sum(r.status != "ok" for r in results)
        if failed:
            notes.insert(0, f"{failed} of {len(results)} runs failed")
        rows.append(
            [
                c.label,
                fmt_seconds(wall),
                fmt_ratio(_scaled(wall, 1 / bound) if bound else None),
                fmt_ratio(_scaled(wall, 1 / ours.median) if ours and wall else None),
                f"{_range([r.records for r in results])} / {run.expected_records:,}",
                _range([r.unique_records for r in results]),
                _range([s.requests for s in servers]),
                _range([s.rate_limited for s in servers]),
                _range([s.faults for s in servers]),
                _range([s.max_in_flight for s in servers]),
                "; ".join(notes)[:300] or "",
            ]
        )
    return rows


def _scaled(value: Spread | None, factor: float) -> Spread | None:
    if value is None:
        return None
    return Spread(value.median * factor, value.low * factor, value.high * factor, value.n)


def _slow_api_targets(run: SlowApiRun) -> list[str]:
    by_key = {c.key: c for c in run.contenders}
    ours = by_key.get("ours")
    ours_wall = _wall(ours) if ours else None
    lines = []
    bound = run.lower_bound_seconds
    if ours_wall is not None and bound:
        complete = all(
            a.result.records == run.expected_records
            for a in ours.attempts  # type: ignore[union-attr]
        )
        ratio = ours_wall.median / bound
        lines.append(
            f"- {_check(ratio <= 1.2 and complete)} Ours within 1.2× the lower bound, with "
            f"all records: {ratio:.2f}× (median), all records: {'yes' if complete else 'no'}"
        )
    else:
        lines.append("- – Ours within 1.2× the lower bound: not measured")
    for key, name in (("naive", "the naive client"), ("dlt", "dlt (explicit paginator)")):
        other = _wall(by_key[key]) if key in by_key else None
        if ours_wall is None or other is None:
            lines.append(f"- – Ours at least 4× faster than {name}: not measured")
            continue
        speedup = other.median / ours_wall.median
        lines.append(
            f"- {_check(speedup >= 4)} Ours at least 4× faster than {name}: {speedup:.1f}×"
        )
    return lines


def _ours_note(run: SlowApiRun) -> list[str]:
    ours = next((c for c in run.contenders if c.key == "ours"), None)
    own = spread(
        float(a.result.extra["pipeline_seconds"])
        for a in (ours.attempts if ours else ())
        if a.result.extra.get("pipeline_seconds") is not None
    )
    if own is None:
        return []
    return [
        f"Our pipeline's own `run_stats.duration_seconds`: {fmt_seconds(own)} "
        "(the process wall time above adds interpreter start-up and imports).",
        "",
    ]


def _dlt_retry_note(run: SlowApiRun) -> list[str]:
    for c in run.contenders:
        for a in c.attempts:
            retry: dict[str, Any] | None = a.result.extra.get("retry")
            if retry:
                version = a.result.extra.get("dlt_version", "?")
                return [
                    f"dlt {version} retry settings (its defaults, not changed): "
                    f"{retry['max_attempts']} attempts in all; exponential backoff "
                    f"{retry['backoff_factor']} s × 2ⁿ capped at {retry['max_retry_delay_s']} s, "
                    f"or the Retry-After header when present; retries on HTTP "
                    f"{retry['retry_statuses']} and {', '.join(retry['retry_exceptions'])}; "
                    f"request timeout {retry['timeout_s']} s. No concurrency: one request "
                    "at a time."
                ]
    return []


def _render_slow_api(config: BenchConfig, run: SlowApiRun) -> list[str]:
    p = config.slow_api
    bound = run.lower_bound_seconds
    limit = f"a server rate limit of {p.rate_limit:g} req/s (burst {p.burst})"
    lines = [
        "## Scenario A: a slow, rate-limited API",
        "",
        f"Simulator (own process): {p.customers:,} customers, {p.per_page} per page "
        f"({run.pages:,} pages); {p.latency_ms:g} ms latency ±{p.latency_jitter:.0%}; "
        f"{limit if p.rate_limit else 'no rate limit'}; {p.fault_rate:.0%} 5xx faults. "
        "A fresh simulator per run.",
        "",
        (
            f"Lower bound: {run.pages:,} pages ÷ {p.rate_limit:g} req/s = {bound:.2f} s."
            if bound
            else "Lower bound: none (no rate limit)."
        ),
        "",
        *_table(
            [
                "Contender",
                "Wall time",
                "× lower bound",
                "× ours",
                "Records / expected",
                "Distinct records",
                "Requests (server)",
                "429s",
                "5xx faults",
                "Max in flight",
                "Notes",
            ],
            _slow_api_rows(run),
        ),
        "",
        "Targets:",
        "",
        *_slow_api_targets(run),
        "",
        "Wall time: ours is the whole `python -m src.main` process (start-up, fetch, "
        "transform, export); the naive client and dlt are timed around their fetch loop "
        "only. Requests, 429s, faults and the most requests in flight at once are the "
        "server's counts (`/_stats`). "
        "Distinct records counts different record bodies (the dataset itself holds some "
        "exact duplicates), so a contender that fetched a page twice shows fewer.",
        "",
        *_ours_note(run),
        *_dlt_retry_note(run),
    ]
    return lines


# --- Scenario B -------------------------------------------------------------------------


def _marginal(sizes: Sequence[int], peaks: Sequence[float | None]) -> list[float | None]:
    """RSS added per record since the previous size: baseline-free growth."""
    out: list[float | None] = [None]
    for i in range(1, len(sizes)):
        prev, cur = peaks[i - 1], peaks[i]
        if prev is None or cur is None or sizes[i] == sizes[i - 1]:
            out.append(None)
        else:
            out.append((cur - prev) / (sizes[i] - sizes[i - 1]))
    return out


def _e2e_rows(runs: Sequence[EndToEnd]) -> tuple[list[list[str]], list[float | None]]:
    peaks: list[float | None] = []
    walls: list[Spread | None] = []
    for r in runs:
        ok = [a for a in r.attempts if a.status == "ok"]
        walls.append(spread(a.wall_seconds for a in ok if a.wall_seconds is not None))
        rss = spread(a.peak_rss_bytes for a in ok if a.peak_rss_bytes is not None)
        peaks.append(rss.median if rss else None)
    marginal = _marginal([r.size for r in runs], peaks)
    rows = []
    for r, wall, peak, extra in zip(runs, walls, peaks, marginal, strict=True):
        if r.skipped is not None or not r.attempts:
            rows.append([f"{r.size:,}", r.skipped or "did not run", *["–"] * 6])
            continue
        notes = sorted({a.note for a in r.attempts if a.note})
        rows.append(
            [
                f"{r.size:,}",
                fmt_seconds(wall),
                _n(r.size / wall.median) if wall else "–",
                f"{wall.median / r.size * 1e6:.1f} µs" if wall else "–",
                f"{_range([a.records for a in r.attempts])} / {r.size:,}",
                fmt_bytes(peak),
                fmt_bytes(peak / r.size) if peak else "–",
                fmt_bytes(extra),
                "; ".join(notes)[:200],
            ]
        )
    return rows, marginal


def _transform_rows(runs: Sequence[TransformOnly]) -> tuple[list[list[str]], list[float | None]]:
    rows: list[list[str]] = []
    per_record: list[float | None] = []
    for r in runs:
        ok = [a for a in r.attempts if a.ok]
        if r.skipped is not None or not ok:
            note = r.skipped or "; ".join(a.note for a in r.attempts)[:200] or "did not run"
            rows.append([f"{r.size:,}", note, *["–"] * 7])
            per_record.append(None)
            continue
        parse = spread_of(a.parse_seconds for a in ok)
        transform = spread_of(a.transform_seconds for a in ok)
        total = spread_of(a.total_seconds for a in ok)
        floor_ratio = spread(a.total_seconds / a.parse_seconds for a in ok if a.parse_seconds)
        peak = spread_of(a.peak_rss_bytes for a in ok)
        above = spread_of((a.peak_rss_bytes - a.baseline_rss_bytes) / r.size for a in ok)
        per_record.append(above.median)
        rows.append(
            [
                f"{r.size:,}",
                fmt_seconds(parse),
                fmt_seconds(transform),
                fmt_seconds(total),
                _n(r.size / total.median),
                _n(r.size / transform.median),
                fmt_ratio(floor_ratio),
                fmt_bytes(peak.median),
                fmt_bytes(above.median),
            ]
        )
    return rows, per_record


def _growth_check(values: Sequence[float | None]) -> tuple[bool | None, str]:
    """Whether per-record memory stays flat: the largest N within tolerance of the previous."""
    known = [v for v in values if v is not None]
    if len(known) < 2:
        return None, "needs two sizes"
    flat = known[-1] <= known[-2] * GROWTH_TOLERANCE
    return flat, f"{fmt_bytes(known[-2])} → {fmt_bytes(known[-1])}"


def _scale_targets(run: ScaleRun) -> list[str]:
    lines = []
    # Issue #7's targets are for 1,000,000 customers: a larger (issue #16) size has its own.
    within = [r for r in run.end_to_end if r.size <= 1_000_000] or list(run.end_to_end)
    largest = max(within, key=lambda r: r.size, default=None)
    ok = [a for a in largest.attempts if a.status == "ok"] if largest else []
    if largest and ok:
        wall = spread(a.wall_seconds for a in ok if a.wall_seconds is not None)
        peak = max(a.peak_rss_bytes or 0 for a in ok)
        complete = all(a.records == largest.size for a in ok)
        if wall:
            lines.append(
                f"- {_check(wall.median <= 60 and complete)} End to end {largest.size:,} "
                f"customers in at most 60 s: {wall.median:.1f} s, all records: "
                f"{'yes' if complete else 'no'}"
            )
        lines.append(
            f"- {_check(peak <= 2**30)} Peak RSS at most 1 GiB: {fmt_bytes(peak)} (worst run)"
        )
    else:
        lines.append("- – End to end and peak RSS: not measured")
    measured = [r for r in run.transform if any(a.ok for a in r.attempts)]
    biggest = max(measured, key=lambda r: r.size, default=None)
    t_ok = [a for a in biggest.attempts if a.ok] if biggest else []
    if biggest and t_ok:
        total = spread_of(a.total_seconds for a in t_ok)
        transform = spread_of(a.transform_seconds for a in t_ok)
        rate = biggest.size / transform.median
        lines.append(
            f"- {_check(rate >= 200_000)} Transform at least 200,000 records/s "
            f"({biggest.size:,} records; normalize, dedup, enrich, score): {rate:,.0f} "
            f"records/s (with orjson parsing: {biggest.size / total.median:,.0f} records/s)"
        )
    else:
        lines.append("- – Transform throughput: not measured")
    _, e2e_marginal = _e2e_rows(run.end_to_end)
    _, per_record = _transform_rows(run.transform)
    for name, values in (
        ("transform RSS per record above baseline", per_record),
        ("end-to-end marginal RSS per record", e2e_marginal),
    ):
        flat, detail = _growth_check(values)
        lines.append(
            f"- {_check(flat)} Memory per record does not grow with N ({name}; the largest "
            f"N within {GROWTH_TOLERANCE}× of the one before): {detail}"
        )
    return lines


def _median(values: Sequence[float | int | None]) -> float | None:
    known = spread(v for v in values if v is not None)
    return known.median if known else None


def _floor_rows(runs: Sequence[EndToEnd]) -> list[list[str]]:
    """Issue #16: each size against the simulator's own serving rate, measured just before."""
    rows = []
    for r in runs:
        pairs = [(a, p) for a, p in zip(r.attempts, r.phases, strict=False) if a.status == "ok"]
        if not pairs:
            continue
        floor = _median([p.floor_records_per_second for _, p in pairs])
        ratio = _median(
            [
                r.size / a.wall_seconds / p.floor_records_per_second
                for a, p in pairs
                if a.wall_seconds and p.floor_records_per_second
            ]
        )
        wall = _median([a.wall_seconds for a, _ in pairs])
        peak = max(a.peak_rss_bytes or 0 for a, _ in pairs)
        stored = _median([_stored_share(p) for _, p in pairs])
        rows.append(
            [
                f"{r.size:,}",
                _n(floor),
                _n(r.size / wall) if wall else "–",
                f"{ratio:.2f}" if ratio else "–",
                *(
                    f"{v:.1f} s" if v is not None else "–"
                    for v in (
                        _median([p.fetch_seconds for _, p in pairs]),
                        _median([p.finish_seconds for _, p in pairs]),
                        _median([_rest(a, p) for a, p in pairs]),
                    )
                ),
                f"{wall / r.size * 1e6:.1f} µs" if wall else "–",
                fmt_bytes(peak),
                fmt_bytes(peak / r.size),
                f"{stored:.1%}" if stored is not None else "–",
            ]
        )
    return rows


def _rest(attempt: FetchResult, phases: Phases) -> float | None:
    """Process wall time outside fetch and finish: start-up, imports and the export."""
    if attempt.wall_seconds is None or phases.fetch_seconds is None:
        return None
    return attempt.wall_seconds - phases.fetch_seconds - (phases.finish_seconds or 0.0)


def _stored_share(phases: Phases) -> float | None:
    if not phases.checkpoint_json_bytes or phases.checkpoint_stored_bytes is None:
        return None
    return phases.checkpoint_stored_bytes / phases.checkpoint_json_bytes


def _floor_targets(run: ScaleRun) -> list[str]:
    """The targets of issue #16, judged on the largest size of this run (ratios only)."""
    measured = [r for r in run.end_to_end if _floor_rows([r])]
    if not measured:
        return ["- – Issue #16 targets: no end-to-end run with a floor"]
    small, large = measured[0], measured[-1]

    def per_record(r: EndToEnd) -> float | None:
        wall = _median([a.wall_seconds for a in r.attempts if a.status == "ok"])
        return wall / r.size if wall else None

    def ratio(r: EndToEnd) -> float | None:
        return _median(
            [
                r.size / a.wall_seconds / p.floor_records_per_second
                for a, p in zip(r.attempts, r.phases, strict=False)
                if a.status == "ok" and a.wall_seconds and p.floor_records_per_second
            ]
        )

    lines = []
    share = ratio(large)
    lines.append(
        f"- {_check(share >= 0.5 if share else None)} End-to-end rate at {large.size:,} at "
        f"least half the simulator's serving rate: {share or 0:.2f}"
    )
    if large is not small:
        a, b = per_record(small), per_record(large)
        growth = b / a if a and b else None
        lines.append(
            f"- {_check(growth <= 1.25 if growth else None)} Time per record at "
            f"{large.size:,} within 1.25× of {small.size:,}: {growth or 0:.2f}×"
        )
    peak = max((a.peak_rss_bytes or 0 for a in large.attempts if a.status == "ok"), default=0)
    lines.append(
        f"- {_check(peak <= 3 * 2**30 if peak else None)} Peak RSS at {large.size:,} at most "
        f"3 GiB: {fmt_bytes(peak)}"
    )
    stored = _median([_stored_share(p) for p in large.phases])
    lines.append(
        f"- {_check(stored <= 0.25 if stored is not None else None)} Checkpoint bytes on disk "
        f"at most 25% of the raw bytes: "
        + (f"{stored:.1%}" if stored is not None else "not reported")
    )
    done = [t for t in run.transform if any(a.ok for a in t.attempts)]
    if done:
        biggest = done[-1]
        ok = [a for a in biggest.attempts if a.ok]
        parse = spread_of(a.parse_seconds for a in ok).median
        transform = spread_of(a.transform_seconds for a in ok).median
        lines.append(
            f"- {_check(transform <= parse)} Transform alone no longer than orjson parsing "
            f"the same bytes ({biggest.size:,} records): {transform / parse:.2f}× the parse"
        )
    return lines


def _render_floor(run: ScaleRun) -> list[str]:
    rows = _floor_rows(run.end_to_end)
    if not rows:
        return []
    return [
        "### End to end against the simulator's own serving rate (issue #16)",
        "",
        "Floor: the same simulator process serves every page once to a bare fetch loop "
        "(8 connections, orjson, nothing kept) just before each pipeline run. Phases come "
        "from the pipeline's metadata: fetch (with each page's streaming extraction) and the "
        "transform's finish (derive, dedup, sort, canonical, quality); the rest of the "
        "process's wall time is start-up and the export. On "
        "this shared 2-CPU machine absolute rates move between runs; judge by the ratios.",
        "",
        *_table(
            [
                "Customers",
                "Floor records/s",
                "Pipeline records/s",
                "× floor",
                "Fetch",
                "Finish transform",
                "Start-up + export",
                "Time per record",
                "Peak RSS",
                "Peak RSS per record",
                "Checkpoint on disk / raw",
            ],
            rows,
        ),
        "",
        "Targets (issue #16):",
        "",
        *_floor_targets(run),
        "",
    ]


def _render_scale(config: BenchConfig, run: ScaleRun) -> list[str]:
    if config.scenario == "destinations":
        return [
            "## Scenario B: scale", "", *render_destinations(run.destinations, run.sinks)
        ]
    e2e_rows, _ = _e2e_rows(run.end_to_end)
    t_rows, _ = _transform_rows(run.transform)
    return [
        "## Scenario B: scale",
        "",
        "### End to end (our pipeline) and growth",
        "",
        f"Simulator (own process): no faults, no latency, no rate limit, "
        f"{config.scale.per_page} per page (its --max-per-page). Peak RSS is the pipeline "
        "process's own (`os.wait4`).",
        "",
        *_table(
            [
                "Customers",
                "Wall time",
                "Records/s",
                "Time per record",
                "Records / expected",
                "Peak RSS",
                "Peak RSS per record",
                "Marginal RSS per record",
                "Notes",
            ],
            e2e_rows,
        ),
        "",
        *_render_floor(run),
        "### Transform only (normalize, dedup, enrich, score) and growth",
        "",
        "Raw records generated once into `bench/data/` (JSON array), one worker process per "
        "run. Floor: orjson parsing the same bytes. Per-record RSS is above the worker's "
        "peak after imports.",
        "",
        *_table(
            [
                "Records",
                "orjson parse (floor)",
                "Transform",
                "Parse + transform",
                "Records/s (parse + transform)",
                "Records/s (transform)",
                "× floor",
                "Peak RSS",
                "RSS per record",
            ],
            t_rows,
        ),
        "",
        "Targets:",
        "",
        *_scale_targets(run),
        "",
        *render_destinations(run.destinations, run.sinks),
    ]


# --- Scenarios C and D -------------------------------------------------------------------


def _by_label(run: LimitRun) -> dict[str, list[Run]]:
    grouped: dict[str, list[Run]] = {}
    for r in run.runs:
        grouped.setdefault(r.label, []).append(r)
    return grouped


def _ok(runs: Sequence[Run]) -> list[Run]:
    return [r for r in runs if r.result.status == "ok" and r.server is not None]


def _records(runs: Sequence[Run], expected: int) -> str:
    got = _range([r.result.records for r in runs])
    return f"{got} / {expected:,}"


def _header_less_rows(config: BenchConfig, run: LimitRun) -> list[list[str]]:
    params = config.header_less
    rows = []
    for label, runs in _by_label(run).items():
        ok = _ok(runs)
        if not ok:
            rows.append([label, runs[0].result.note or "failed", *["–"] * 9])
            continue
        wall = spread(r.result.wall_seconds for r in ok if r.result.wall_seconds is not None)
        sync = spread(
            float(r.result.extra["pipeline_seconds"])
            for r in ok
            if r.result.extra.get("pipeline_seconds") is not None
        )
        bounds = spread(params.bound(r.server.faults) for r in ok if r.server is not None)
        ratio = spread(
            (r.result.extra.get("pipeline_seconds") or r.result.wall_seconds or 0.0)
            / params.bound(r.server.faults)
            for r in ok
            if r.server is not None and params.bound(r.server.faults) > 0
        )
        rates = spread(
            rate
            for r in ok
            if r.server is not None and (rate := sustained_rate(r.server.timeline)) is not None
        )
        rate_text = (
            "–"
            if rates is None
            else f"{rates.fmt(digits=1)} ({rates.median / params.rate_limit:.0%})"
        )
        rows.append([
            label,
            fmt_seconds(wall),
            fmt_seconds(sync),
            fmt_seconds(bounds),
            fmt_ratio(ratio),
            rate_text,
            _range([r.server.requests for r in ok if r.server]),
            _range([r.server.rate_limited for r in ok if r.server]),
            _range([r.server.faults for r in ok if r.server]),
            _records(ok, params.customers),
            "; ".join(sorted({r.result.note for r in runs if r.result.note})),
        ])
    rows.extend([label, why, *["–"] * 9] for label, why in run.skipped)
    return rows


def _rate_over_time(run: LimitRun) -> list[str]:
    ours = next((r for r in _ok(run.runs) if r.key == "ours"), None)
    if ours is None or ours.server is None or not ours.server.timeline:
        return []
    rows = [
        [str(second), str(through), str(refused)]
        for second, (through, refused) in enumerate(ours.server.timeline)
    ]
    return [
        "Rate over time, our pipeline (first run), as the server counted it: requests let "
        "through the limit and 429s, per second since the first request.",
        "",
        *_table(["Second", "Let through", "429s"], rows),
        "",
    ]


def _header_less_targets(config: BenchConfig, run: LimitRun) -> list[str]:
    params = config.header_less
    ours = _ok(_by_label(run).get(next(
        (r.label for r in run.runs if r.key == "ours"), ""), []))
    if not ours or any(params.bound(r.server.faults) <= 0 for r in ours if r.server):
        return ["- – Ours on the header-less limiter: not measured (no bound to compare)"]
    ratio = spread_of(
        (r.result.extra.get("pipeline_seconds") or r.result.wall_seconds or 0.0)
        / max(params.bound(r.server.faults if r.server else 0), 1e-9)
        for r in ours
    )
    rates = spread_of(
        sustained_rate(r.server.timeline) or 0.0 for r in ours if r.server is not None
    )
    share = rates.median / params.rate_limit
    return [
        f"- {_check(ratio.median <= 1.2)} Ours within 1.2× the retry-aware bound (the "
        f"client's own sync duration): {ratio.median:.2f}×",
        f"- {_check(share >= 0.9)} Ours sustains at least 90% of the server's rate while "
        f"pages remain: {rates.median:.1f} req/s = {share:.0%} of {params.rate_limit:g}",
    ]


def _render_header_less(config: BenchConfig, run: LimitRun) -> list[str]:
    p = config.header_less
    return [
        "## Scenario C: a rate limit without rate-limit headers",
        "",
        f"Simulator (own process): {p.customers:,} customers, {p.per_page} per page "
        f"({p.pages} pages); {p.rate_limit:g} req/s (burst {p.burst}) whose 429s carry only "
        "a `Retry-After` (seconds, HTTP-date, decimal, missing or garbage) and no "
        f"rate-limit header at all; no latency; {p.fault_rate:.0%} 5xx faults.",
        "",
        "Retry-aware lower bound: (pages + faulted attempts − burst) ÷ rate, per run. "
        "\"Server rate\" is the requests the server let through per second, over every whole "
        "second but the last (while pages remained). Ours: wall time is the process, sync "
        "is the client's own `run_stats.duration_seconds`; × bound uses the sync time (the "
        "others' wall time is their fetch loop).",
        "",
        *_table(
            [
                "Contender",
                "Wall time",
                "Sync",
                "Bound",
                "× bound",
                "Server rate (req/s)",
                "Requests (server)",
                "429s",
                "5xx faults",
                "Records / expected",
                "Notes",
            ],
            _header_less_rows(config, run),
        ),
        "",
        *_rate_over_time(run),
        "Targets:",
        "",
        *_header_less_targets(config, run),
    ]


def _render_page_size(config: BenchConfig, run: LimitRun) -> list[str]:
    p = config.page_size
    grouped = _by_label(run)
    small_label = f"Our pipeline, --per-page {p.small}"
    small = _ok(grouped.get(small_label, []))
    small_requests = spread(float(r.server.requests) for r in small if r.server)
    rows = []
    for label, runs in grouped.items():
        ok = _ok(runs)
        if not ok:
            rows.append([label, runs[0].result.note or "failed", "–", "–", "–"])
            continue
        requests = spread(float(r.server.requests) for r in ok if r.server)
        fewer = (
            f"{small_requests.median / requests.median:.1f}×"
            if requests and small_requests and requests.median
            else "–"
        )
        rows.append([
            label,
            fmt_seconds(spread(r.result.wall_seconds for r in ok if r.result.wall_seconds)),
            _range([r.server.requests for r in ok if r.server]),
            fewer,
            _records(ok, p.customers),
        ])
    rows.extend([label, why, "–", "–", "–"] for label, why in run.skipped)
    auto = _ok(grouped.get("Our pipeline, defaults (per_page auto)", []))
    auto_requests = spread(float(r.server.requests) for r in auto if r.server)
    if auto_requests and small_requests:
        factor = small_requests.median / auto_requests.median
        target = (
            f"- {_check(factor >= 10)} Defaults (auto) need at least 10× fewer requests than "
            f"--per-page {p.small}: {factor:.1f}× ({auto_requests.median:.0f} against "
            f"{small_requests.median:.0f})"
        )
    else:
        target = "- – Page size: not measured"
    return [
        "## Scenario D: page size",
        "",
        f"Simulator (own process): {p.customers:,} customers; it grants up to "
        f"{p.max_per_page} per page (and caps silently above). No faults, no latency, no "
        "rate limit.",
        "",
        *_table(
            ["Contender", "Wall time", "Requests (server)", "× fewer than per_page 6",
             "Records / expected"],
            rows,
        ),
        "",
        "Targets:",
        "",
        target,
    ]


def render(report: Report) -> str:
    config = report.config
    lines = ["# Benchmark results (issue #7)", ""]
    if config.smoke:
        lines += ["**Smoke run**: tiny sizes, no latency; the numbers mean nothing.", ""]
    lines += [
        f"`{report.command}`, started {report.started_at}. {config.repeat} repetition(s): "
        "median, with (min–max) when more than one. Ratios come from this run only.",
        "",
        "## Machine",
        "",
        *_table(["", "Value"], [list(row) for row in report.machine.as_rows()]),
        "",
    ]
    if report.slow_api is not None:
        lines += [*_render_slow_api(config, report.slow_api), ""]
    if report.scale is not None:
        lines += [*_render_scale(config, report.scale), ""]
    if report.header_less is not None:
        lines += [*_render_header_less(config, report.header_less), ""]
    if report.page_size is not None:
        lines += [*_render_page_size(config, report.page_size), ""]
    return "\n".join(lines).rstrip() + "\n"
