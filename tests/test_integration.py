"""End to end: the real CLI in a subprocess against the simulated API on loopback."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from customer_sync.simulated_api import SimulatedServer, SimulatorConfig

from .support import ROOT, validate_output

FAST = ["--backoff-base", "0.01", "--no-progress"]
KEY = "sk-live-INTEGRATION-7c1e"


def run_cli(*args: str, cwd: Path = ROOT, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_")}
    return subprocess.run(
        [sys.executable, "-m", "src.main", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[
    subprocess.CompletedProcess[str], dict[str, Any], Path
]:
    """One run of the default dataset with the built-in simulator and its 20% faults."""
    out = tmp_path_factory.mktemp("default") / "sample_output.json"
    proc = run_cli("--output", str(out), "--sim-fault-rate", "0.5", *FAST)
    assert proc.returncode == 0, proc.stderr
    return proc, validate_output(out), out


EXPECTED_DEMO = {
    # id: (full_name, email_domain, engagement, activity, channel, segment, tier, score)
    1: ("George Bluth", "reqres.in", "high", "active", "website", "US-West", "premium", 100),
    2: ("Janet Weaver", "reqres.in", "high", "active", "mobile", "US-East", "enterprise", 100),
    3: ("Emma Wong", "reqres.in", "medium", "active", "mobile", "APAC", "basic", 100),
    4: ("Eve Holt", "reqres.in", "medium", "inactive", "email", "EU", "premium", 100),
    5: ("Charles Morris", "reqres.in", "medium", "active", "email", "EU", "premium", 100),
    6: ("Tracey Ramos", "reqres.in", "low", "active", "website", "US-East", "basic", 100),
    7: ("Michael Lawson", "reqres.in", "high", "active", "unknown", "Other", "premium", 100),
    8: ("Lindsay Ferguson", "reqres.in", "low", "active", "mobile", "APAC", "basic", 100),
    9: ("Tobias Funke", "reqres.in", "medium", "inactive", "unknown", "US-West", "enterprise", 100),
    10: ("Byron Fields", "reqres.in", "medium", "active", "website", "EU", "premium", 100),
    11: ("George Edwards", "reqres.in", "high", "active", "mobile", "APAC", "basic", 100),
    12: ("Rachel Howell", "reqres.in", "high", "active", "email", "US-East", "premium", 100),
    14: ("lUCILLE Bluth", "unknown", "unknown", "unknown", "unknown", "unknown", "unknown", 20),
}
FIELDS = (
    "full_name", "email_domain", "engagement_level", "activity_status",
    "acquisition_channel", "market_segment", "customer_tier", "data_quality_score",
)


def test_default_run_exports_the_users_example_for_george(default_run: Any) -> None:
    """George Bluth comes out exactly as the user's example shows."""
    _, doc, _ = default_run
    george = next(c for c in doc["customers"] if c["customer_id"] == 1)
    assert george == {
        "customer_id": 1, "full_name": "George Bluth", "email_domain": "reqres.in",
        "engagement_level": "high", "activity_status": "active",
        "acquisition_channel": "website", "market_segment": "US-West",
        "customer_tier": "premium", "data_quality_score": 100,
    }


def test_default_run_derives_every_field_of_the_demo_dataset(default_run: Any) -> None:
    """Every exported demo customer has the derived fields the rules give."""
    _, doc, _ = default_run
    got = {c["customer_id"]: tuple(c[f] for f in FIELDS) for c in doc["customers"]}
    assert got == EXPECTED_DEMO


def test_default_run_accounts_for_every_record(default_run: Any) -> None:
    """16 fetched = 13 exported + 2 merged + 1 rejected, in metadata and side files."""
    _, doc, out = default_run
    meta = doc["metadata"]
    assert meta["accounting"] == {
        "records_in": 16, "exported": 13, "duplicates_merged": 2, "rejected": 1,
        "replaced_by_rewalk": 0, "balanced": True,
    }
    assert meta["total_customers"] == len(doc["customers"]) == 13
    assert meta["records_fetched"] == meta["run_stats"]["records"] == 16
    assert sum(meta["data_quality_summary"].values()) == 13
    lineage = out.with_name("sample_output.lineage.jsonl").read_text().splitlines()
    rejected = out.with_name("sample_output.rejected.jsonl").read_text().splitlines()
    assert len(lineage) == 2
    assert len(rejected) == 1


def test_default_run_is_sorted_by_name_then_id(default_run: Any) -> None:
    """Customers are sorted by full_name, then customer_id."""
    _, doc, _ = default_run
    keys = [(c["full_name"], c["customer_id"]) for c in doc["customers"]]
    assert keys == sorted(keys)


def test_default_run_prints_a_summary_and_logs_retries(default_run: Any) -> None:
    """stdout has the summary; stderr sums retries up (UTC timestamps, pages, causes)."""
    proc, doc, _ = default_run
    assert "exported" in proc.stdout
    assert "duplicates" in proc.stdout
    assert "retries" in proc.stdout
    summaries = [line for line in proc.stderr.splitlines() if " retry_summary " in line]
    assert summaries, proc.stderr
    assert re.match(
        r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z warning +retry_summary pages_retrying=\d+ "
        r"retries=\d+ causes=",
        summaries[0],
    )
    assert not [line for line in proc.stderr.splitlines() if " retry " in line]  # debug only
    assert doc["metadata"]["run_stats"]["retries_total"] >= 1


@pytest.fixture
def keyed_server() -> Iterator[SimulatedServer]:
    with SimulatedServer(SimulatorConfig(api_key=KEY, fault_rate=0.0)) as server:
        yield server


def test_wrong_key_exits_1_with_one_line_and_keeps_previous_output(
    keyed_server: SimulatedServer, tmp_path: Path
) -> None:
    """A 401 fails the run (exit 1) with one line saying to check the key; old output stays."""
    out = tmp_path / "sample_output.json"
    out.write_text('{"previous": true}')
    proc = run_cli("--api-url", keyed_server.base_url, "--api-key", "wrong-key",
                   "--output", str(out), *FAST)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ")
    assert "API key" in lines[-1]
    assert "Traceback" not in proc.stderr
    assert out.read_text() == '{"previous": true}'


def test_right_key_syncs_and_never_leaks(keyed_server: SimulatedServer, tmp_path: Path) -> None:
    """With the right key the sync works; the key is in no output, side file or log."""
    out = tmp_path / "sample_output.json"
    proc = run_cli("--api-url", keyed_server.base_url, "--api-key", KEY, "--output", str(out),
                   "--log-level", "debug", "--log-format", "json", *FAST)
    assert proc.returncode == 0, proc.stderr
    validate_output(out)
    written = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert KEY not in proc.stdout + proc.stderr
    assert KEY.encode() not in written  # the sync state's Parquet files included


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--api-url", "notaurl"], 2, "--api-url"),
        (["--per-page", "0"], 2, "--per-page"),
        (["--as-of", "yesterday"], 2, "--as-of"),
        (["--log-level", "loud"], 2, "--log-level"),
        (["--no-such-flag"], 2, "unrecognized arguments"),
        (["--output", "/nonexistent-dir/x/out.json"], 1, "does not exist"),
        (["--api-url", "http://127.0.0.1:9/api", "--max-retries", "1",
          "--connect-timeout", "0.5"], 1, "page 1"),
    ],
)
def test_user_errors_give_one_line_and_a_distinct_exit_code(
    args: list[str], code: int, needle: str, tmp_path: Path
) -> None:
    """Each user mistake exits with its code and one clear line, no traceback."""
    full = [*args] if "--output" in args else [*args, "--output", str(tmp_path / "o.json")]
    proc = run_cli(*full, *FAST)
    assert proc.returncode == code, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ")
    assert needle in last
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "o.json").exists()


def test_run_report_metadata_is_the_files_metadata(tmp_path: Path) -> None:
    """The metadata the run reports is the file's, read once: even a ticking clock agrees."""
    from customer_sync.pipeline import run_pipeline

    from .chaos_support import NOW, FakeTime, in_process_api, settings_for

    api = in_process_api(customers=30, fault_rate=0.0)
    ticks = iter(range(1000))
    fake = FakeTime()
    settings = settings_for(tmp_path, per_page=10)
    report = run_pipeline(
        settings,
        now=lambda: NOW.replace(second=next(ticks) % 60),
        clock=fake.monotonic,
        transport=api.transport(),
        sleep=fake.sleep,
        wall_clock=fake.wall,
    )
    written = json.loads(settings.output.read_text())["metadata"]
    assert written == report.metadata
