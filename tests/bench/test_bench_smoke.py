"""The benchmark harness (``python -m bench``) still works: a smoke run, no timing asserted.

One ``python -m bench --smoke`` run (a few hundred records, no latency, no faults, each
scenario once) must produce the table with every expected row and the right record
counts. dlt is never installed here: without ``bench/.venv-dlt`` its rows must say how
to set it up.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.config import SMOKE
from bench.contenders import dlt_python
from bench.simulator_proc import simulator_missing

ROOT = Path(__file__).resolve().parents[2]
A_CUSTOMERS = SMOKE.slow_api.customers
A_PAGES = SMOKE.slow_api.pages
DLT_READY = dlt_python(SMOKE.dlt_venv).exists()
SETUP_HINT = "skipped: run `python -m bench --setup-dlt`"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(simulator_missing() is not None, reason="no simulator to bench against"),
]


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split(" | ")]


def _rows(markdown: str, heading: str) -> dict[str, dict[str, str]]:
    """The first table after ``heading``: {first cell: {column header: cell}}."""
    lines = markdown.split(heading, 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    header = _cells(lines[start])
    rows: dict[str, dict[str, str]] = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = _cells(line)
        rows[cells[0]] = dict(zip(header, cells, strict=True))
    return rows


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> str:
    output = tmp_path_factory.mktemp("bench") / "results.md"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = output.read_text(encoding="utf-8")
    assert proc.stdout.strip() == text.strip()
    assert output.with_suffix(".json").exists()
    return text


def test_machine_is_described(report: str) -> None:
    """The report names the CPU count, CPU model, Python version and OS."""
    machine = _rows(report, "## Machine")
    assert set(machine) >= {"CPUs", "CPU model", "Python", "OS"}
    assert machine["Python"]["Value"].endswith(".".join(map(str, sys.version_info[:3])))


def test_scenario_a_has_every_contender(report: str) -> None:
    """Scenario A has a row per contender, the baseline labelled as such."""
    rows = _rows(report, "## Scenario A")
    assert list(rows) == [
        "Our pipeline (end to end)",
        "Naive sequential client (baseline)",
        "dlt rest_api, PageNumberPaginator(base_page=1)",
        "dlt, auto paginator",
    ]


def test_scenario_a_ours_and_naive_get_every_record(report: str) -> None:
    """Our pipeline and the naive client both receive all records, one request per page."""
    rows = _rows(report, "## Scenario A")
    for label in ("Our pipeline (end to end)", "Naive sequential client (baseline)"):
        row = rows[label]
        assert row["Records / expected"] == f"{A_CUSTOMERS} / {A_CUSTOMERS}", row
        assert int(row["Requests (server)"]) >= A_PAGES, row


@pytest.mark.skipif(DLT_READY, reason="bench/.venv-dlt exists: the dlt rows run")
def test_scenario_a_dlt_rows_say_how_to_set_up(report: str) -> None:
    """Without the dlt venv, both dlt rows are skipped with the setup command."""
    rows = _rows(report, "## Scenario A")
    assert rows["dlt rest_api, PageNumberPaginator(base_page=1)"]["Wall time"] == SETUP_HINT
    assert rows["dlt, auto paginator"]["Wall time"] == SETUP_HINT


@pytest.mark.skipif(not DLT_READY, reason="no bench/.venv-dlt (CI never installs dlt)")
def test_scenario_a_dlt_rows_count_records(report: str) -> None:
    """With the dlt venv, dlt gets every record; its auto paginator repeats page 1."""
    rows = _rows(report, "## Scenario A")
    explicit = rows["dlt rest_api, PageNumberPaginator(base_page=1)"]
    auto = rows["dlt, auto paginator"]
    assert explicit["Records / expected"] == f"{A_CUSTOMERS} / {A_CUSTOMERS}", explicit
    assert auto["Records / expected"].endswith(f"/ {A_CUSTOMERS}"), auto
    assert int(auto["Distinct records"]) < int(explicit["Distinct records"]), (auto, explicit)
    assert "page 1 twice" in auto["Notes"], auto


def test_scenario_b_end_to_end_and_transform_rows(report: str) -> None:
    """Scenario B has an end-to-end row and a transform row per size, with all records."""
    e2e = _rows(report, "### End to end")
    assert list(e2e) == [f"{size:,}" for size in SMOKE.scale.e2e_sizes]
    for size in SMOKE.scale.e2e_sizes:
        assert e2e[f"{size:,}"]["Records / expected"] == f"{size:,} / {size:,}", e2e
    transform = _rows(report, "### Transform only")
    assert list(transform) == [f"{size:,}" for size in SMOKE.scale.transform_sizes]
    for row in transform.values():
        assert row["Transform"].endswith((" s", " ms")), row  # measured, not skipped or failed


def test_scenarios_c_and_d_have_their_rows(report: str) -> None:
    """C lists ours and the naive client with server counts; D compares auto with per_page 6."""
    c = _rows(report, "## Scenario C")
    assert c["Our pipeline (end to end)"]["Records / expected"] == "300 / 300"
    assert c["Naive sequential client (baseline)"]["Requests (server)"] == "12"
    d = _rows(report, "## Scenario D")
    assert d["Our pipeline, defaults (per_page auto)"]["Requests (server)"] == "3"
    assert d["Our pipeline, --per-page 6"]["Requests (server)"] == "50"
    assert "Defaults (auto) need at least 10× fewer requests" in report


def test_scenario_b_destination_rows(report: str) -> None:
    """Scenario B has a row per destination (JSON only, then JSON plus DuckDB, Parquet,
    PostgreSQL), each measured with every record."""
    rows = _rows(report, "### Destinations")
    assert list(rows) == [
        "JSON only (the default)", "JSON + DuckDB", "JSON + Parquet", "JSON + PostgreSQL"
    ]
    size = max(SMOKE.scale.e2e_sizes)
    for row in rows.values():
        assert row["Records"] == f"{size:,}", row
        assert row["Wall time"].endswith((" s", " ms")), row
