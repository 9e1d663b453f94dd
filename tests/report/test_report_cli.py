"""The CLI's report flags, the missing-field warning and --require-fields (issue #15)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ..chaos_support import LoopbackApp, cli_in_process
from .support import reqres_app

FAST = ("--no-progress", "--backoff-base", "0.01", "--sim-fault-rate", "0")
ENGAGEMENT = (
    "warning: the source sent no sessions_30d or orders_count in 100% of records: "
    "engagement_level is unknown for all 12 customers"
)


@pytest.fixture(scope="module")
def reqres_url() -> Iterator[str]:
    """A reqres.in look-alike on loopback: the 12 real users, five fields each."""
    with LoopbackApp(reqres_app()) as server:
        yield f"{server.url}/api"


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no .env file is read
    return tmp_path


def test_default_run_writes_the_report_next_to_the_output(in_tmp: Path) -> None:
    """No flag: out.report.html beside out.json, named in the summary."""
    run = cli_in_process("--output", "out.json", *FAST)
    assert run.code == 0, run.stderr
    assert (in_tmp / "out.report.html").is_file()
    assert "report      out.report.html" in run.stdout


def test_report_flag_chooses_the_path_and_no_report_turns_it_off(in_tmp: Path) -> None:
    """--report PATH writes there; --no-report writes no page at all."""
    (in_tmp / "pages").mkdir()
    run = cli_in_process("--output", "a.json", "--report", "pages/q.html", *FAST)
    assert run.code == 0, run.stderr
    assert (in_tmp / "pages" / "q.html").is_file()
    assert not (in_tmp / "a.report.html").exists()
    run = cli_in_process("--output", "b.json", "--no-report", *FAST)
    assert run.code == 0, run.stderr
    assert not list(in_tmp.glob("b*.html"))
    assert "report" not in run.stdout


def test_report_in_a_missing_directory_fails_before_fetching(in_tmp: Path) -> None:
    """An unwritable report path is one line and exit 1, and nothing is written."""
    run = cli_in_process("--output", "o.json", "--report", "nope/r.html", *FAST)
    assert run.code == 1
    assert run.stderr.strip().splitlines()[-1].startswith("error: report directory 'nope'")
    assert "Traceback" not in run.stderr
    assert not (in_tmp / "o.json").exists()


def test_unknown_required_field_is_a_usage_error(in_tmp: Path) -> None:
    """--require-fields with a name no rule reads: exit 2, naming the choices."""
    run = cli_in_process("--require-fields", "sessions_30d,shoe_size", *FAST)
    assert run.code == 2
    assert "unknown field 'shoe_size'" in run.stderr
    assert "Traceback" not in run.stderr


def test_reqres_users_warn_loudly_at_the_end(in_tmp: Path, reqres_url: str) -> None:
    """The 12 real reqres users: exit 0, and a warning names what the source lacks."""
    run = cli_in_process("--api-url", reqres_url, "--output", "out.json", *FAST)
    assert run.code == 0, run.stderr
    lines = run.stderr.strip().splitlines()
    assert ENGAGEMENT in lines
    assert sum(line.startswith("warning: the source sent no") for line in lines) == 6
    page = (in_tmp / "out.report.html").read_text()
    assert ENGAGEMENT.removeprefix("warning: ") in page


def test_require_fields_fails_the_run_and_keeps_the_previous_output(
    in_tmp: Path, reqres_url: str
) -> None:
    """--require-fields sessions_30d against reqres: exit 1, one line, old files intact."""
    previous = {"out.json": "{}\n", "out.report.html": "<p>old</p>\n"}
    for name, text in previous.items():
        (in_tmp / name).write_text(text)
    run = cli_in_process(
        "--api-url", reqres_url, "--output", "out.json",
        "--require-fields", "email,sessions_30d", *FAST,
    )
    assert run.code == 1
    [error] = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert "required field sessions_30d missing" in error
    assert "the previous output is intact" in error
    assert "Traceback" not in run.stderr
    for name, text in previous.items():
        assert (in_tmp / name).read_text() == text
    assert sorted(p.name for p in in_tmp.iterdir() if not p.name.startswith(".")) == sorted(
        previous
    )


def test_required_fields_the_source_sends_pass(in_tmp: Path, reqres_url: str) -> None:
    """Requiring only fields reqres sends (email, names) lets the run succeed."""
    run = cli_in_process(
        "--api-url", reqres_url, "--output", "out.json",
        "--require-fields", "email,first_name,last_name", *FAST,
    )
    assert run.code == 0, run.stderr


def test_report_path_that_is_a_fifo_is_refused(in_tmp: Path) -> None:
    """A report path that is a FIFO is refused before fetching, exit 2, one line."""
    import os

    os.mkfifo(in_tmp / "r.html")
    run = cli_in_process("--output", "o.json", "--report", "r.html", *FAST)
    assert run.code == 2
    assert "r.html" in run.stderr.strip().splitlines()[-1]
    assert not (in_tmp / "o.json").exists()


def test_with_json_logs_the_warning_is_a_json_event(in_tmp: Path, reqres_url: str) -> None:
    """--log-format json: each missing-field warning is one JSON warning event."""
    import json

    run = cli_in_process("--api-url", reqres_url, "--output", "out.json",
                         "--log-format", "json", *FAST)
    assert run.code == 0, run.stderr
    events = [json.loads(line) for line in run.stderr.splitlines() if line.startswith("{")]
    missing = [e for e in events if e.get("event") == "source_fields_missing"]
    assert len(missing) == 6
    assert {e["level"] for e in missing} == {"warning"}
    assert ENGAGEMENT.removeprefix("warning: ") in [e["message"] for e in missing]
