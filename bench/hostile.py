"""The hostile run of issue 11, seed by seed: ``python -m bench.hostile``.

3,000 customers; 30% faults of every kind (20 s stalls included); 10 deletions during
the sync; a header-less limiter at 60 req/s, burst 10 (429s carry only a Retry-After).
For each seed: a fresh simulator process, then ``python -m src.main --fresh`` with our
defaults, timed as a whole process. The table shows the wall time, what the client did
(requests, 429s, timeouts and stalls, passes over the data), the record accounting
(fetched = exported + merged + rejected + replaced by a re-walk), and whether the output
equals what the processor makes of the data the server holds at the end (fetched again
after the run, page by page, retrying every fault). The target: every seed under 15 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from .procs import child_env, run_measured
from .simulator_proc import SimSpec, SimulatorProcess

__all__ = ["HostileRun", "hostile_section", "main", "render", "run_seed", "seed_list"]

REPO_ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 15.0
TIMEOUT_CAUSES = ("connect_timeout", "read_timeout", "pool_timeout", "deadline", "stalled")
TITLE = "## Hostile run (issue 11)"
SETUP = (
    "Per seed, a fresh simulator process (`python -m customer_sync.simulated_api --customers "
    "3000 --seed S --fault-rate 0.3 --fault-kinds all --drift delete --drift-max-events 10 "
    "--rate-limit 60 --burst 10 --rate-limit-headers none`: 30% faults of every kind, 20 s "
    "stalls included, 10 deletions during the sync, 429s with only a Retry-After), then "
    "`python -m src.main --fresh --no-report` with the defaults, timed as a whole process. "
    "*Accounted*: exported + merged + rejected + replaced = fetched (*replaced*: the records "
    "of the first pass, which the deletions made the client walk again; the last pass is "
    "the customer set). *Output = server*: the output equals what the processor makes of "
    "the server's data fetched again after the run (customers deleted during the sync are "
    "not exported). *Load*: the 1-minute load average when the seed started (2 CPUs; the "
    "run itself is two busy processes). Target: every seed under 15 s."
)


def hostile_spec(seed: int, customers: int = 3000) -> SimSpec:
    return SimSpec(
        customers=customers,
        max_per_page=100,
        seed=seed,
        fault_rate=0.3,
        fault_kinds="all",
        rate_limit=60.0,
        burst=10,
        rate_limit_headers="none",
        drift="delete",
        drift_max_events=10,
    )


@dataclass(frozen=True, slots=True)
class HostileRun:
    seed: int
    ok: bool
    wall_seconds: float
    sync_seconds: float | None = None
    requests: int | None = None
    rate_limited: int | None = None
    timeouts: int | None = None
    passes: int | None = None
    fetched: int | None = None
    exported: int | None = None
    merged: int | None = None
    rejected: int | None = None
    balanced: bool = False
    matches_server: bool = False
    load: float = 0.0
    note: str = ""


def final_records(base_url: str, per_page: int = 100) -> list[Any]:
    """Every record the server holds now, page by page, retrying each fault at once."""
    records: list[Any] = []
    with httpx.Client(timeout=httpx.Timeout(5.0, read=1.0)) as http:
        page, pages = 1, 1
        while page <= pages:
            for _ in range(200):
                try:
                    answer = http.get(
                        f"{base_url}/users", params={"page": page, "per_page": per_page}
                    )
                    body = answer.json() if answer.status_code == 200 else None
                except (httpx.HTTPError, ValueError):
                    body = None
                if isinstance(body, dict) and isinstance(body.get("data"), list):
                    break
                time.sleep(0.05)  # a 429 or a fault: the server's limit refills meanwhile
            else:
                raise RuntimeError(f"page {page}: no good answer in 200 tries")
            records.extend(body["data"])
            pages = int(body.get("total_pages") or 0)
            page += 1
    return records


def _expected(records: list[Any], as_of: str) -> list[dict[str, Any]]:
    from customer_sync.transform import CustomerDataProcessor  # only when checking

    processor = CustomerDataProcessor(as_of=datetime.fromisoformat(as_of.replace("Z", "+00:00")))
    processor.add_batch(records)
    return list(processor.finish().customers)


def _key(customer: dict[str, Any]) -> str:
    return json.dumps(customer, sort_keys=True)


def _passes(log_text: str) -> int:
    """1 + the full re-walks the run logged (a soft re-check names its pages)."""
    walks = 0
    for line in log_text.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("event") == "recheck_started":
            walks += "pages" not in event
    return 1 + walks


def run_seed(seed: int, workdir: Path, customers: int = 3000) -> HostileRun:
    """One hostile run: a fresh simulator and a fresh pipeline process."""
    workdir.mkdir(parents=True, exist_ok=True)
    output = workdir / "out.json"
    load = os.getloadavg()[0]
    with SimulatorProcess(hostile_spec(seed, customers), REPO_ROOT) as sim:
        argv = [
            sys.executable, "-m", "src.main", "--api-url", sim.base_url, "--fresh",
            "--no-progress", "--no-report", "--output", str(output),
            "--state-dir", str(workdir / "state"), "--log-format", "json",
            "--log-level", "info",
        ]
        proc = run_measured(argv, cwd=workdir, env=child_env(REPO_ROOT), timeout=300.0)
        if not proc.ok or not output.exists():
            return HostileRun(seed, False, proc.wall_seconds, load=load, note=proc.tail())
        document = json.loads(output.read_text(encoding="utf-8"))
        server_now = final_records(sim.base_url)
    (workdir / "server_records.json").write_text(json.dumps(server_now), encoding="utf-8")
    meta = document["metadata"]
    stats = meta.get("run_stats") or {}
    accounting = meta.get("accounting") or {}
    retries = stats.get("retries") or {}
    fetched = meta.get("records_fetched")
    exported, merged, rejected = (
        accounting.get("exported"), accounting.get("duplicates_merged"), accounting.get("rejected")
    )
    replaced = accounting.get("replaced_by_rewalk", 0)
    balanced = None not in (fetched, exported, merged, rejected) and (
        exported + merged + rejected + replaced == fetched
    )
    wanted = {c["customer_id"]: _key(c) for c in _expected(server_now, meta["as_of"])}
    exported_by_id = {c["customer_id"]: _key(c) for c in document["customers"]}
    expected, got = sorted(wanted.values()), sorted(exported_by_id.values())
    missing = len(wanted.keys() - exported_by_id.keys())
    extra = len(exported_by_id.keys() - wanted.keys())
    both = wanted.keys() & exported_by_id.keys()
    changed = sum(1 for i in both if wanted[i] != exported_by_id[i])
    return HostileRun(
        seed=seed,
        ok=True,
        wall_seconds=proc.wall_seconds,
        sync_seconds=stats.get("duration_seconds"),
        requests=stats.get("requests"),
        rate_limited=stats.get("rate_limited"),
        timeouts=sum(int(retries.get(c, 0)) for c in TIMEOUT_CAUSES),
        passes=_passes(proc.stderr + proc.stdout),
        fetched=fetched,
        exported=exported,
        merged=merged,
        rejected=rejected,
        balanced=bool(balanced),
        matches_server=expected == got,
        load=load,
        note=""
        if expected == got
        else f"{missing} missing, {extra} not on the server, {changed} differ",
    )


def _cell(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, float):
        return f"{value:.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def render(runs: Sequence[HostileRun]) -> str:
    """A markdown table, one row per seed, and a summary line."""
    head = (
        "| seed | wall s | sync s | requests | 429s | timeouts/stalls | passes | fetched | "
        "exported | merged | rejected | accounted | output = server | load | note |"
    )
    lines = [head, "|" + "---|" * 15]
    for r in runs:
        cells = [
            r.seed, r.wall_seconds, r.sync_seconds, r.requests, r.rate_limited, r.timeouts,
            r.passes, r.fetched, r.exported, r.merged, r.rejected, r.balanced,
            r.matches_server, r.load, r.note if r.ok else f"failed: {r.note}",
        ]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    times = [r.wall_seconds for r in runs]
    under = sum(r.ok and r.wall_seconds < TARGET_SECONDS for r in runs)
    complete = sum(r.ok and r.balanced and r.matches_server for r in runs)
    if times:
        lines.append("")
        median = statistics.median(times)
        lines.append(
            f"{under} of {len(runs)} under {TARGET_SECONDS:g} s; median {median:.2f} s, "
            f"max {max(times):.2f} s; {complete} of {len(runs)} complete, accounted for "
            "and equal to the server's data."
        )
    return "\n".join(lines) + "\n"


def seed_list(text: str) -> list[int]:
    seeds: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        seeds.extend(range(int(low), int(high or low) + 1))
    return seeds


def run_seeds(
    seeds: Sequence[int], *, customers: int = 3000, workdir: Path | None = None,
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
) -> list[HostileRun]:
    runs: list[HostileRun] = []
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as tmp:
        root = workdir or Path(tmp)
        for seed in seeds:
            run = run_seed(seed, root / f"seed-{seed}", customers)
            failed = "" if run.ok else f" FAILED {run.note}"
            log(f"hostile seed {seed}: {run.wall_seconds:.2f} s{failed}")
            runs.append(run)
    return runs


def hostile_section(seeds: Sequence[int], log: Callable[[str], None]) -> tuple[str, bool]:
    """The results file's section for the hostile run, and whether every run was whole."""
    runs = run_seeds(seeds, log=log)
    ok = all(r.ok and r.balanced for r in runs)
    return f"{TITLE}\n\n{SETUP}\n\n{render(runs)}", ok


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hostile", description=__doc__)
    parser.add_argument("--seeds", type=seed_list, default=seed_list("1-10"), help="e.g. 1-5,11")
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--workdir", type=Path, help="keep each run's files here")
    args = parser.parse_args(argv)
    runs = run_seeds(args.seeds, customers=args.customers, workdir=args.workdir)
    print(render(runs))
    return 0 if all(r.ok and r.balanced for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
