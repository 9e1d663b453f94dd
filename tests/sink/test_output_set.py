"""The output set (issue 12, items 1 and 2): every file of a run is staged under a temp
name, then all are replaced together; a kill or a full disk at any step leaves a set that
belongs together, or a mismatch a reader detects plus temps the next run sweeps."""

from __future__ import annotations

import errno
import io
import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from customer_sync.errors import ConfigError, SinkError
from customer_sync.models import Merge, ProcessCounts, ProcessResult, Rejection
from customer_sync.sink.json_file import JsonFileSink, JsonStreamSink, lineage_path, rejected_path
from customer_sync.sink.output_set import Part, check_output_set, side_path
from customer_sync.sink.summary import to_frame

from ..chaos_support import child_env
from ..support import ROOT, read_strict, sample_customer

STEPS = [
    "stage rejected",
    "stage lineage",
    "stage main",
    "replace rejected",
    "replace lineage",
    "replace main",
    "fsync directory",
]


def result(run: str) -> ProcessResult:
    """A small result whose side files differ by run (``old``: 2 rejected, 1 merge)."""
    n_rejected, n_merges = (2, 1) if run == "old" else (1, 2)
    customers = [sample_customer(customer_id=i, full_name=f"{run} {i}") for i in (1, 2)]
    return ProcessResult(
        frame=to_frame(customers),
        rejected=[Rejection("missing_id", {"email": f"{run}@x.co"}, 10 + i)
                  for i in range(n_rejected)],
        merges=[Merge(1, 1, "same_id", 20 + i) for i in range(n_merges)],
        counts=ProcessCounts(2 + n_rejected + n_merges, 2, n_merges, n_rejected),
    )


def files_of(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.parent.iterdir()) if p.is_file()}


KILLED_WRITE = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from customer_sync.sink.json_file import JsonFileSink
    from tests.sink.test_output_set import result

    def step(label):
        if label == sys.argv[2]:
            os.kill(os.getpid(), signal.SIGKILL)

    JsonFileSink(Path(sys.argv[1]), step=step).write(result("new"), {"run_id": "new"})
    """
)


@pytest.mark.parametrize("kill_at", STEPS)
def test_a_kill_at_any_step_leaves_a_set_that_belongs_together_or_a_detected_mismatch(
    tmp_path: Path, kill_at: str
) -> None:
    """SIGKILL before each step of the set's write: old set, new set, or old main beside new
    side files that the reader flags by run id; the next start sweeps every temp."""
    out = tmp_path / "out.json"
    JsonFileSink(out).write(result("old"), {"run_id": "old"})
    old = files_of(out)
    child = subprocess.run(
        [sys.executable, "-c", KILLED_WRITE, str(out), kill_at],
        cwd=ROOT, env=child_env(), capture_output=True, text=True, timeout=60, check=False,
    )
    assert child.returncode == -9, child.stderr
    main_run = read_strict(out)["metadata"]["run_id"]
    problems = check_output_set(out)
    replaced = STEPS.index(kill_at) - STEPS.index("replace rejected")
    if replaced <= 0:  # killed while staging: every target is the old one
        assert {k: v for k, v in files_of(out).items() if not k.endswith(".tmp")} == old
        assert problems == []
    elif kill_at in ("replace lineage", "replace main"):  # some sides new, the main old
        assert main_run == "old"
        assert problems
        assert all("rows of another run" in p or "announces" in p for p in problems), problems
    else:  # the main file was replaced: the whole set is new
        assert main_run == "new"
        assert problems == []
    JsonFileSink(out).check_writable()  # the next run's start
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("full_at", [s for s in STEPS if s.startswith("stage")])
def test_a_full_disk_while_staging_leaves_every_previous_file_intact(
    tmp_path: Path, full_at: str
) -> None:
    """ENOSPC while writing any part: one SinkError, every old file byte for byte, no temp."""
    out = tmp_path / "out.json"
    JsonFileSink(out).write(result("old"), {"run_id": "old"})
    old = files_of(out)

    def step(label: str) -> None:
        if label == full_at:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(SinkError) as caught:
        JsonFileSink(out, step=step).write(result("new"), {"run_id": "new"})
    assert "No space left on device" in str(caught.value)
    assert "previous output files are intact" in str(caught.value)
    assert files_of(out) == old


def test_every_file_of_the_set_carries_the_run_id_and_the_main_file_names_them(
    tmp_path: Path,
) -> None:
    """metadata.run_id and output_files name each side file and its rows; each row has the id."""
    out = tmp_path / "out.json"
    report = JsonFileSink(out).write(result("new"), {"run_id": "r42"})
    metadata = read_strict(out)["metadata"]
    assert metadata["run_id"] == "r42"
    assert metadata["output_files"] == {
        "rejected": {"file": "out.rejected.jsonl", "rows": 1},
        "lineage": {"file": "out.lineage.jsonl", "rows": 2},
    }
    assert dict(report.metadata) == metadata
    for path in (rejected_path(out), lineage_path(out)):
        assert {json.loads(line)["run_id"] for line in path.read_text().splitlines()} == {"r42"}
    assert check_output_set(out) == []


def test_another_file_output_joins_the_set_through_a_part_builder(tmp_path: Path) -> None:
    """An extra part (the HTML report) is staged and replaced with the others, run id inside."""
    out = tmp_path / "out.json"

    def report_part(res: object, metadata: object, output: Path) -> Part:
        run_id = dict(metadata)["run_id"]  # type: ignore[call-overload]
        html = f"<html><body data-run-id='{run_id}'></body></html>".encode()
        return Part("report", side_path(output, "report.html"), lambda: [html])

    JsonFileSink(out, extra_parts=[report_part]).write(result("new"), {"run_id": "r7"})
    assert (tmp_path / "out.report.html").read_text() == (
        "<html><body data-run-id='r7'></body></html>"
    )
    assert read_strict(out)["metadata"]["output_files"]["report"] == {
        "file": "out.report.html", "rows": None
    }


@pytest.mark.parametrize("kind", ["fifo", "dev_null", "symlink_to_dev_null", "side_fifo"])
def test_an_output_that_is_not_a_regular_file_is_refused(tmp_path: Path, kind: str) -> None:
    """A FIFO, /dev/null (run as root too) or a side file that is a FIFO: ConfigError, exit 2."""
    out = tmp_path / "out.json"
    if kind == "fifo":
        os.mkfifo(out)
    elif kind == "dev_null":
        out = Path("/dev/null")
    elif kind == "symlink_to_dev_null":
        out.symlink_to("/dev/null")
    else:
        os.mkfifo(rejected_path(out))
    with pytest.raises(ConfigError) as caught:
        JsonFileSink(out).check_writable()
    assert caught.value.exit_code == 2
    assert "not a regular file" in str(caught.value)
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_symlink_to_a_regular_file_may_be_the_output(tmp_path: Path) -> None:
    """A symlink to a regular file is accepted (the link is replaced by the new file)."""
    target = tmp_path / "real.json"
    target.write_text("{}")
    out = tmp_path / "out.json"
    out.symlink_to(target)
    JsonFileSink(out).check_writable()


def test_the_stdout_sink_streams_the_document_and_writes_no_side_file(tmp_path: Path) -> None:
    """JsonStreamSink writes the whole document to the stream and nothing to disk."""
    stream = io.BytesIO()
    report = JsonStreamSink(stream, chunk_rows=1).write(result("new"), {"run_id": "s1"})
    document = json.loads(stream.getvalue())
    assert document["metadata"]["run_id"] == "s1"
    assert len(document["customers"]) == 2
    assert report.target == "-"
    assert report.side_files == {}
    assert list(tmp_path.iterdir()) == []


def test_the_start_sweeps_stale_temps_of_every_file_of_the_set_but_not_a_live_runs(
    tmp_path: Path,
) -> None:
    """Temps of a dead PID go, for any file of the set (a report too); a live PID's stay."""
    out = tmp_path / "out.json"
    dead = [tmp_path / f".out.{name}.999999999.tmp" for name in ("json", "report.html")]
    live = tmp_path / f".out.report.html.{os.getppid()}.tmp"
    other = tmp_path / ".other.json.999999999.tmp"
    for path in (*dead, live, other):
        path.write_text("torn")
    JsonFileSink(out).check_writable()
    assert [p.exists() for p in (*dead, live, other)] == [False, False, True, True]


def test_a_whole_run_that_hits_a_full_disk_keeps_the_previous_set(tmp_path: Path) -> None:
    """The issue's case: disk full at the main file; no side file of the new run is left."""
    from ..chaos_support import in_process_api, settings_for

    settings = settings_for(tmp_path, per_page=5, output=tmp_path / "out.json")
    in_process_api(customers=30, seed=1).run(settings)
    old = files_of(tmp_path / "out.json")

    def full_at_main(label: str) -> None:
        if label == "stage main":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    api = in_process_api(customers=40, seed=2)
    with pytest.raises(SinkError) as caught:
        api.run(settings, sink=JsonFileSink(tmp_path / "out.json", step=full_at_main))
    assert caught.value.exit_code == 1
    assert str(caught.value).startswith(f"cannot write output '{tmp_path / 'out.json'}': No space")
    assert files_of(tmp_path / "out.json") == old
    assert check_output_set(tmp_path / "out.json") == []


def test_a_rename_that_fails_half_way_says_the_set_is_mixed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rename refused after the first: the error names what was replaced; reader agrees."""
    from customer_sync import atomic

    out = tmp_path / "out.json"
    JsonFileSink(out).write(result("old"), {"run_id": "old"})
    real, calls = os.replace, []

    def replace(src: object, dst: object) -> None:
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        real(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(atomic.os, "replace", replace)
    with pytest.raises(SinkError) as caught:
        JsonFileSink(out).write(result("new"), {"run_id": "new"})
    assert "after replacing out.rejected.jsonl" in str(caught.value)
    assert read_strict(out)["metadata"]["run_id"] == "old"
    assert check_output_set(out)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
