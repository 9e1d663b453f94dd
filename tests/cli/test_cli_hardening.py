"""The command line under hostile conditions (issue 12, items 2, 7 and 8): outputs that
are not files, stdout, SIGTERM, unknown variables, impossible URLs, JSON fatal errors
and the progress bar's total."""

from __future__ import annotations

import io
import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from customer_sync.cli import EXIT_TERMINATED, TermHandler, build_parser
from customer_sync.config import unknown_variables
from customer_sync.models import Event
from customer_sync.progress import ProgressBar
from customer_sync.simulated_api import SimulatedServer, SimulatorConfig

from ..chaos_support import AS_OF_TEXT, NOW, cli_in_process

QUIET = ["--no-progress", "--as-of", AS_OF_TEXT, "--backoff-base", "0.01"]
NOWHERE = "http://127.0.0.1:9/api"  # never contacted: these runs stop before any request


@pytest.fixture
def server() -> SimulatedServer:
    with SimulatedServer(SimulatorConfig(fault_rate=0.0, now=NOW)) as running:
        yield running


# -- item 2: outputs that are not regular files; stdout ------------------------------------
@pytest.mark.parametrize("kind", ["fifo", "dev_null", "side_file_fifo"])
def test_an_output_that_is_not_a_regular_file_exits_2_before_any_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: SimulatedServer, kind: str
) -> None:
    """--output naming a FIFO or /dev/null (this runs as root too): exit 2, one line."""
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out.json"
    if kind == "fifo":
        os.mkfifo(out)
    elif kind == "dev_null":
        out = Path("/dev/null")
    else:
        os.mkfifo(tmp_path / "out.lineage.jsonl")
    run = cli_in_process("--api-url", server.base_url, "--output", str(out), *QUIET)
    assert run.code == 2, run.stderr
    assert run.stderr.count("\n") == 1
    assert run.last_line.startswith("error: output ")
    assert "not a regular file" in run.last_line
    assert server.stats.snapshot()["requests"] == 0
    assert not out.is_file()


def test_output_dash_streams_the_json_to_stdout_and_writes_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: SimulatedServer
) -> None:
    """--output - : the document on stdout, the summary on stderr, no file written."""
    monkeypatch.chdir(tmp_path)
    run = cli_in_process("--api-url", server.base_url, "--output", "-", *QUIET)
    assert run.code == 0, run.stderr
    document = json.loads(run.stdout)
    assert document["metadata"]["total_customers"] == len(document["customers"]) == 13
    assert "output_files" not in document["metadata"]
    assert "exported" in run.stderr
    assert "-> -" in run.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_help_says_stdout_output_is_not_atomic() -> None:
    """--help explains --output - : stdout, not atomic, no side files."""
    text = " ".join(build_parser().format_help().split())
    assert "'-' streams the JSON to stdout instead: not atomic, no side files" in text
    assert "143 terminated (SIGTERM)" in text


# -- item 7: SIGTERM ---------------------------------------------------------------------
def test_a_second_termination_signal_ends_the_process_at_once() -> None:
    """The first SIGTERM interrupts like Ctrl-C; the second exits 143 at once."""
    exits: list[int] = []
    err = io.StringIO()
    handler = TermHandler(err, exit=exits.append)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            handler(signal.SIGTERM, None)
        handler(signal.SIGTERM, None)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert exits == [EXIT_TERMINATED] == [143]
    assert err.getvalue() == "terminated: second signal, exiting at once\n"


def test_sigterm_in_an_in_process_run_exits_143_with_the_interrupted_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real SIGTERM while pages stream in: exit 143, `interrupted:` line, checkpoint kept."""
    monkeypatch.chdir(tmp_path)
    config = SimulatorConfig(customers=300, seed=3, now=NOW, fault_rate=0.0)
    strikes = 0

    from customer_sync import checkpoint

    real_save = checkpoint.Checkpoint.save

    def save_then_strike(self: checkpoint.Checkpoint, page: int, body: dict, **kw: Any) -> None:  # type: ignore[type-arg]
        nonlocal strikes
        real_save(self, page, body, **kw)
        if self.saved_pages >= 5 and not strikes:
            strikes += 1
            signal.raise_signal(signal.SIGTERM)

    monkeypatch.setattr(checkpoint.Checkpoint, "save", save_then_strike)
    with SimulatedServer(config) as running:
        run = cli_in_process("--api-url", running.base_url, "--per-page", "5",
                             "--concurrency", "1", "--output", "out.json", *QUIET)
    assert run.code == 143, run.stderr
    assert run.last_line.startswith("interrupted: stopped; ")
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "out.json").exists()
    assert len(list((tmp_path / ".pipeline_state" / "pages").glob("*.json.zst"))) >= 5
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


# -- item 8: configuration -----------------------------------------------------------------
def test_an_unknown_pipeline_variable_warns_alike_in_the_environment_and_in_dotenv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: SimulatedServer
) -> None:
    """A typo in the environment or in .env: a warning naming the close match, exit 0."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("PIPELINE_CONCURENCY=2\n")
    run = cli_in_process("--api-url", server.base_url, "--output", "o.json", *QUIET,
                         environ={"PIPELINE_PER_PAG": "3", "HOME": "/root"})
    assert run.code == 0, run.stderr
    lines = run.stderr.splitlines()
    assert ("warning: environment variable PIPELINE_PER_PAG names no setting; ignored "
            "(did you mean PIPELINE_PER_PAGE?)") in lines
    assert ("warning: .env entry PIPELINE_CONCURENCY names no setting; ignored "
            "(did you mean PIPELINE_CONCURRENCY?)") in lines


def test_unknown_variables_never_show_values_and_skip_other_prefixes(tmp_path: Path) -> None:
    """Only PIPELINE_ names are checked, and a value (maybe a key) is never printed."""
    found = unknown_variables({"PIPELINE_API_KYE": "sk-secret", "PATH": "/bin"}, env_file=None)
    assert found == ["warning: environment variable PIPELINE_API_KYE names no setting; "
                     "ignored (did you mean PIPELINE_API_KEY?)"]


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("http://127.0.0.1:99999/api", "port must be a number from 1 to 65535"),
        ("http://127.0.0.1:0/api", "port must be a number from 1 to 65535"),
        ("http://exa mple.com/api", "the host holds a space"),
        ("http://host:abc/api", "port must be a number"),
    ],
)
def test_an_impossible_port_or_a_space_in_the_host_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, needle: str
) -> None:
    """Exit 2 with one line naming --api-url, not a connection error (exit 1)."""
    monkeypatch.chdir(tmp_path)
    run = cli_in_process("--api-url", url, *QUIET)
    assert run.code == 2, run.stderr
    assert run.stderr.count("\n") == 1
    assert "--api-url" in run.last_line
    assert needle in run.last_line


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--output", "missing/o.json"], 1, "does not exist"),
        (["--per-page", "0"], 2, "per_page"),
    ],
)
def test_with_json_logs_a_fatal_error_is_one_sync_failed_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], code: int, needle: str
) -> None:
    """--log-format json: the failure is one JSON event with error, hint and exit_code."""
    monkeypatch.chdir(tmp_path)
    run = cli_in_process("--log-format", "json", "--api-url", NOWHERE, *args, *QUIET)
    assert run.code == code
    (line,) = run.stderr.splitlines()
    event = json.loads(line)
    assert event["event"] == "sync_failed"
    assert event["level"] == "error"
    assert event["exit_code"] == code
    assert needle in event["error"]
    assert "hint" in event


def test_the_progress_bar_never_counts_past_its_total_in_recheck_passes() -> None:
    """Pages of a drift re-check restart the count; completed never exceeds total."""
    bar = ProgressBar(enabled=True, stream=io.StringIO())
    with bar:
        bar.hook(Event("sync_started", 0.0, {"total_pages": 3}))
        for pass_no in (0, 0, 0, 1, 1, 1, 2, 2, 2, 2):
            bar.hook(Event("page_fetched", 0.0, {"records": 5, "pass": pass_no}))
            assert bar._progress is not None
            task = bar._progress.tasks[0]
            assert task.total == 3
            assert task.completed <= 3
    assert task.description == "pages (re-check 2)"
    assert task.fields["records"] == 50


def test_with_json_logs_an_unknown_variable_is_a_json_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--log-format json: the unknown-variable warning is a JSON event too."""
    monkeypatch.chdir(tmp_path)
    run = cli_in_process("--log-format", "json", "--api-url", NOWHERE, "--per-page", "0",
                         *QUIET, environ={"PIPELINE_PER_PAG": "3"})
    warning, failure = (json.loads(line) for line in run.stderr.splitlines())
    assert warning["event"] == "unknown_setting_variable"
    assert warning["level"] == "warning"
    assert "did you mean PIPELINE_PER_PAGE?" in warning["message"]
    assert failure["event"] == "sync_failed"
