"""The chaos suite (issue #6): faults of every kind, a rate limit and page drift, and the
pipeline still exports every customer exactly once. Plus strict JSON and atomic output.

Whole pipeline runs (fetch, transform, export) go against the simulated API in process
(``httpx.ASGITransport``) on fake time: the client's backoff and 429 waits, the server's
token bucket, latency and stalls all read one fake clock, so nothing really waits. A
:class:`~tests.chaos_support.Tap` records every request's outcome per page, which is how
"no request past the retry budget" is checked.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest

from customer_sync import atomic
from customer_sync.errors import IncompleteSyncError
from customer_sync.frames import CUSTOMER_SCHEMA
from customer_sync.models import ProcessCounts, ProcessResult, Rejection
from customer_sync.simulated_api import FAULT_KINDS, SimulatedServer, SimulatorConfig
from customer_sync.sink.json_file import JsonFileSink, lineage_path, rejected_path

from ..chaos_support import (
    AS_OF_TEXT,
    ERROR,
    NOW,
    OK,
    THROTTLED,
    Tap,
    budget_violations,
    chaos_problems,
    child_env,
    clean_customers,
    cli_in_process,
    in_process_api,
    read_jsonl,
    settings_for,
    usable_ids,
)
from ..support import ROOT, read_strict, sample_customer

CHAOS_SEEDS = [0, 1, 2, 3, 4]
MAX_RETRIES = 3


def chaos_api(seed: int) -> Any:
    """5,000 customers; 30% faults of every kind; 50 req/s server limit (burst 5); 3 insertions."""
    return in_process_api(
        customers=5000,
        seed=seed,
        fault_rate=0.3,
        fault_kinds=FAULT_KINDS,
        rate_limit=50.0,
        burst=5,
        drift="insert",
        drift_every=9,
        drift_max_events=3,
    )


@pytest.mark.parametrize("seed", CHAOS_SEEDS)
def test_chaos_run_exports_every_customer_exactly_once(seed: int, tmp_path: Path) -> None:
    """Under 30% faults of every kind, a rate limit and insert drift, nothing is lost."""
    api = chaos_api(seed)
    tap = Tap(api.transport(), read_timeout=5.0)  # the simulator stalls for 20 s
    settings = settings_for(tmp_path, per_page=50, concurrency=4, read_timeout=5.0)
    report = api.run(settings, transport=tap)
    document = read_strict(tmp_path / "sample_output.json")
    expected = clean_customers(api.final_records())

    assert chaos_problems(document, expected, sequences=tap.sequences()) == []
    served = api.stats()
    assert all(served["faults"][kind] > 0 for kind in FAULT_KINDS), served["faults"]
    assert served["fault_details"]["http_429_seconds"] > 0
    assert served["fault_details"]["http_429_date"] > 0
    assert served["rate_limited"] > 0  # the server's token bucket said no, too
    assert served["drift_events"] == 3
    assert report.stats.drift_detected
    assert report.stats.requests == served["requests"] == len(tap.log)
    assert sum(report.stats.retries.values()) == served["requests"] - report.stats.pages
    assert report.stats.retries["read_timeout"] == served["faults"]["stall"]


def test_deletion_drift_is_detected_and_the_missed_record_recovered(tmp_path: Path) -> None:
    """A record deleted mid-sync shifts a later one onto a fetched page; the re-check finds it."""
    api = in_process_api(customers=600, seed=5, drift="delete", drift_every=5, drift_max_events=1)
    tap = Tap(api.transport(), keep_bodies=True)
    pass_zero_ends: list[int] = []

    def mark(event: Any) -> None:
        if event.name == "recheck_started" and not pass_zero_ends:
            pass_zero_ends.append(len(tap.bodies))

    report = api.run(settings_for(tmp_path, per_page=20, concurrency=1), transport=tap, hook=mark)

    pass_zero_records = [r for _, body in tap.bodies[: pass_zero_ends[0]] for r in body["data"]]
    final = usable_ids(api.final_records())
    missed = final - usable_ids(pass_zero_records)
    assert len(missed) == 1  # the record that slid back onto an already-fetched page
    assert report.stats.drift_detected
    assert any("total went from 600" in e for e in report.stats.drift_events)
    document = read_strict(tmp_path / "sample_output.json")
    assert missed <= {c["customer_id"] for c in document["customers"]}
    # the customer set is the last pass's: the record deleted meanwhile is not exported,
    # and the first pass's records are accounted for as replaced by the re-walk
    assert chaos_problems(document, clean_customers(api.final_records()),
                          sequences=tap.sequences()) == []
    accounting = document["metadata"]["accounting"]
    assert accounting["replaced_by_rewalk"] == len(pass_zero_records)


def test_data_that_keeps_moving_fails_loudly_and_keeps_the_old_output(tmp_path: Path) -> None:
    """Deletions that never stop end in IncompleteSyncError: never a silent short output."""
    api = in_process_api(customers=300, seed=2, drift="delete", drift_every=4)
    out = tmp_path / "sample_output.json"
    out.write_text('{"previous": true}')
    with pytest.raises(IncompleteSyncError, match=r"^sync incomplete: the data kept changing"):
        api.run(settings_for(tmp_path, per_page=20))
    assert out.read_text() == '{"previous": true}'


def test_the_chaos_checks_fail_on_a_broken_result(tmp_path: Path) -> None:
    """Feed the checks one customer missing and one duplicated: they must object to both."""
    api = in_process_api(customers=200, seed=1)
    api.run(settings_for(tmp_path, per_page=20))
    good = read_strict(tmp_path / "sample_output.json")
    expected = clean_customers(api.final_records())
    assert chaos_problems(good, expected) == []

    customers = list(good["customers"])
    gone = customers.pop(10)
    customers.append(customers[3])  # the count stays the same: only the ids give it away
    problems = chaos_problems({**good, "customers": customers}, expected)
    assert f"customers exported more than once: [{customers[3]['customer_id']}]" in problems
    assert f"customers missing: 1 (e.g. [{gone['customer_id']}])" in problems


def test_the_budget_check_fails_on_a_request_past_the_budget() -> None:
    """A page asked for a fifth time after four errors is a policy violation."""
    assert budget_violations({1: [ERROR] * 3 + [OK], 2: [THROTTLED] * 9 + [OK]}, 3) == []
    assert budget_violations({4: [ERROR] * 4 + [OK]}, 3) == [
        "page 4: 4 errors in a row (budget 3)"
    ]
    assert budget_violations({5: [OK, ERROR]}, 3) == ["page 5: its last request got error"]


# -- strict JSON ----------------------------------------------------------------------------
NAN_PAGE = (
    b'{"page": 1, "total": 3, "total_pages": 1, "data": ['
    b'{"id": 1, "first_name": "Ann", "lifetime_value": NaN, "sessions_30d": Infinity},'
    b'{"id": -Infinity, "first_name": "Bob"},'
    b'{"id": 123456789012345678901234567890, "first_name": "Cy\\ud800"}]}'
)


def test_output_is_strict_json_even_when_the_api_sends_nan(tmp_path: Path) -> None:
    """NaN, Infinity, huge ints and lone surrogates in raw records never reach the files as such."""
    api = in_process_api()
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=NAN_PAGE))
    report = api.run(settings_for(tmp_path), transport=transport)
    assert report.result.counts.records_in == 3
    out = tmp_path / "sample_output.json"
    read_strict(out)
    for side in (rejected_path(out), lineage_path(out)):
        read_jsonl(side)
    assert "NaN" not in out.read_text() + rejected_path(out).read_text()


def test_sink_writes_non_finite_metadata_as_null(tmp_path: Path) -> None:
    """A NaN or infinity in the metadata is written as null, so the file stays strict JSON."""
    frame = pl.DataFrame([sample_customer()], schema=CUSTOMER_SCHEMA, orient="row")
    result = ProcessResult(
        frame, [Rejection("bad", {"x": math.inf}, 0)], [], ProcessCounts(2, 1, 0, 1)
    )
    out = tmp_path / "o.json"
    JsonFileSink(out).write(result, {"a": math.nan, "b": [math.inf, -math.inf]})
    document = read_strict(out)
    assert {k: document["metadata"][k] for k in ("a", "b")} == {"a": None, "b": [None, None]}
    assert json.loads(rejected_path(out).read_text())["record"] == {"x": None}


# -- atomic output ----------------------------------------------------------------------------
DYING_EXPORT = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    import polars as pl
    from customer_sync.frames import CUSTOMER_SCHEMA
    from customer_sync.models import ProcessCounts, ProcessResult
    from customer_sync.sink.json_file import JsonFileSink
    from tests.support import sample_customer

    class DyingFrame:
        '''Yields one chunk of customers, then the process is killed mid-export.'''
        def __init__(self, frame):
            self.frame = frame
        def iter_slices(self, n):
            yield self.frame.head(1)
            sys.stdout.write("writing\\n"); sys.stdout.flush()
            os.kill(os.getpid(), signal.SIGKILL)

    rows = [sample_customer(customer_id=i) for i in range(1, 4)]
    frame = pl.DataFrame(rows, schema=CUSTOMER_SCHEMA, orient="row")
    result = ProcessResult(DyingFrame(frame), [], [], ProcessCounts(3, 3, 0, 0))
    JsonFileSink(Path(sys.argv[1]), chunk_rows=1).write(result, {"total_customers": 3})
    """
)


def test_a_crash_during_export_keeps_the_previous_output_and_the_next_start_sweeps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGKILL mid-export leaves the old file intact; the next run sweeps the temp files."""
    out = tmp_path / "sample_output.json"
    previous = {"metadata": {"total_customers": 0}, "customers": []}
    out.write_text(json.dumps(previous))
    child = subprocess.run(
        [sys.executable, "-c", DYING_EXPORT, str(out)],
        cwd=ROOT, env=child_env(), capture_output=True, text=True, timeout=60, check=False,
    )
    assert child.returncode == -9, child.stderr
    assert child.stdout == "writing\n"
    assert read_strict(out) == previous
    stale = sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp"))
    assert len(stale) == 3  # main output and both side files, all torn, none renamed

    monkeypatch.chdir(tmp_path)
    with SimulatedServer(SimulatorConfig(fault_rate=0.0, now=NOW)) as server:
        run = cli_in_process("--api-url", server.base_url, "--output", str(out),
                             "--as-of", AS_OF_TEXT, "--no-progress")
    assert run.code == 0, run.stderr
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert read_strict(out)["metadata"]["total_customers"] == 13


def test_the_write_fsyncs_the_file_before_the_rename_and_the_directory_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Durability: temp file fsynced, then renamed, then its directory fsynced."""
    steps: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        real_fsync(fd)
        target = Path(os.readlink(f"/proc/self/fd/{fd}"))
        steps.append(f"fsync {'dir' if target.is_dir() else target.name}")

    def replace(src: Any, dst: Any) -> None:
        real_replace(src, dst)
        steps.append(f"replace {Path(dst).name}")

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    monkeypatch.setattr(atomic.os, "replace", replace)
    atomic.write_bytes(tmp_path / "x.json", b"{}")
    assert steps == [f"fsync .x.json.{os.getpid()}.tmp", "replace x.json", "fsync dir"]
    assert read_strict(tmp_path / "x.json") == {}
    steps.clear()  # a set: every temp fsynced before the first rename, the directory last
    atomic.write_together([(tmp_path / name, lambda: [b"{}"], 0o644, name)
                           for name in ("a.jsonl", "b.json")])
    pid = os.getpid()
    assert steps == [f"fsync .a.jsonl.{pid}.tmp", f"fsync .b.json.{pid}.tmp",
                     "replace a.jsonl", "replace b.json", "fsync dir"]
