"""Resume after interruption (issue #6): a run that dies leaves its checkpoint, and the next
run against the same source fetches only the missing pages and exports the same result.

In-process runs use the simulated API on fake time. The kill and Ctrl-C tests run the real
CLI in a subprocess against a ``SimulatedServer`` in this process, watch the checkpoint's
``pages/`` directory (or stderr) to decide when to strike, and count requests server-side.
"""

from __future__ import annotations

import signal
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from customer_sync.checkpoint import Checkpoint
from customer_sync.cli import format_summary
from customer_sync.errors import RetryBudgetExhausted
from customer_sync.models import Event
from customer_sync.pipeline import Interrupted
from customer_sync.simulated_api import SimulatedServer, SimulatorConfig
from customer_sync.simulated_api.faults import FaultInjector
from customer_sync.source.page_store import StoreIdentity

from ..chaos_support import (
    AS_OF_TEXT,
    NOW,
    InProcessAPI,
    LineWatcher,
    clean_customers,
    cli_in_process,
    cli_process,
    cli_run,
    in_process_api,
    settings_for,
    wait_until,
)
from ..support import read_strict, validate_output

FAST = ["--backoff-base", "0.01", "--no-progress", "--as-of", AS_OF_TEXT]


def checkpoint_left(state: Path) -> bool:
    """Whether pages or a manifest of a checkpoint are still in ``state``."""
    return (state / "manifest.json").exists() or pages_in(state) > 0


def pages_in(state: Path) -> int:
    pages = state / "pages"
    return len(list(pages.glob("*.json.zst"))) if pages.is_dir() else 0


def sigint_after_pages(count: int) -> Any:
    """A hook that sends this process a real SIGINT once ``count`` pages have arrived."""
    seen = [0]

    def hook(event: Event) -> None:
        if event.name == "page_fetched":
            seen[0] += 1
            if seen[0] == count:
                signal.raise_signal(signal.SIGINT)

    return hook


class FailPages(httpx.AsyncBaseTransport):
    """Answers 503 for some pages, every time: the API giving up half way."""

    def __init__(self, inner: httpx.AsyncBaseTransport, pages: set[int]) -> None:
        self.inner = inner
        self.pages = pages

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if int(request.url.params.get("page", "0")) in self.pages:
            return httpx.Response(503, json={"error": "down"})
        return await self.inner.handle_async_request(request)


def requests_by_page(api: InProcessAPI) -> dict[int, int]:
    counts: dict[int, int] = api.stats()["per_page_requests"]
    return dict(counts)


def delta(after: dict[int, int], before: dict[int, int]) -> dict[int, int]:
    return {page: n - before.get(page, 0) for page, n in after.items() if n - before.get(page, 0)}


# -- in process ---------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["ctrl_c", "crash", "api_gives_up"])
def test_a_run_that_dies_is_resumed_fetching_only_the_missing_pages(
    how: str, tmp_path: Path
) -> None:
    """After Ctrl-C, a crash or a give-up, the next run fetches only the missing pages."""
    api = in_process_api(customers=120, seed=4)
    settings = settings_for(tmp_path, per_page=6, concurrency=1)
    state = tmp_path / ".pipeline_state"
    if how == "ctrl_c":
        with pytest.raises(Interrupted, match=r"page\(s\) are kept in .*\.pipeline_state"):
            api.run(settings, hook=sigint_after_pages(8))
    elif how == "crash":

        def crash(event: Event) -> None:
            if event.name == "page_fetched" and event.fields["page"] == 8:
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            api.run(settings, hook=crash)
    else:
        with pytest.raises(RetryBudgetExhausted, match=r"^page 9: giving up after 4 attempts"):
            api.run(settings, transport=FailPages(api.transport(), {9}))
    kept = pages_in(state)
    assert kept >= 7
    assert not (tmp_path / "sample_output.json").exists()

    before = requests_by_page(api)
    report = api.run(settings)
    fetched = delta(requests_by_page(api), before)
    assert report.stats.resumed
    assert report.stats.pages_from_checkpoint == kept - 1  # page 1 is always fetched again
    assert sum(fetched.values()) == 20 - report.stats.pages_from_checkpoint
    assert fetched[1] == 1
    assert f"resumed     {kept - 1} pages from the checkpoint" in format_summary(report)
    # the log's `resumed pages=N` and the summary agree (issue 12, item 8)
    assert api.named("resumed")[-1]["pages"] == report.stats.pages_from_checkpoint
    document = validate_output(tmp_path / "sample_output.json")
    assert document["customers"] == clean_customers(api.final_records())
    assert document["metadata"]["run_stats"]["pages_from_checkpoint"] == kept - 1
    assert not checkpoint_left(state)  # removed on success (the sync state stays)


def test_success_removes_the_checkpoint_and_a_plain_run_does_not_resume(tmp_path: Path) -> None:
    """An uninterrupted run leaves no checkpoint (only the sync state) and reports no resume."""
    api = in_process_api(customers=60)
    report = api.run(settings_for(tmp_path))
    assert not report.stats.resumed
    assert "resumed" not in format_summary(report)
    assert not checkpoint_left(tmp_path / ".pipeline_state")
    assert sorted(p.name for p in (tmp_path / ".pipeline_state").iterdir()) == ["sync_state"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("other_url", "different source"),
        ("other_per_page", "different source"),
        ("other_total", "different source"),
        ("too_old", "older than 24 h"),
        ("fresh", "--fresh"),
    ],
)
def test_a_checkpoint_that_does_not_fit_is_discarded_with_a_warning(
    change: str, reason: str, tmp_path: Path
) -> None:
    """Another source, per_page, total, an old checkpoint, or --fresh: discarded, all fetched."""
    api = in_process_api(customers=120)
    with pytest.raises(Interrupted):
        api.run(settings_for(tmp_path, per_page=6), hook=sigint_after_pages(8))
    assert pages_in(tmp_path / ".pipeline_state") >= 7

    overrides: dict[str, Any] = {"per_page": 6}
    now = NOW
    if change == "other_url":
        overrides["api_url"] = "http://elsewhere.test/api"
    elif change == "other_per_page":
        overrides["per_page"] = 5
    elif change == "other_total":
        api = in_process_api(customers=121)
    elif change == "too_old":
        now = NOW + timedelta(hours=25)
    else:
        overrides["fresh"] = True
    second = InProcessAPI(api.config, api.time) if change != "other_total" else api
    report = second.run(settings_for(tmp_path, **overrides), now=now)
    (discarded,) = second.named("checkpoint_discarded")
    assert reason in discarded["reason"]
    assert not report.stats.resumed
    assert report.stats.pages_from_checkpoint == 0
    assert second.stats()["requests"] == report.stats.pages


def test_the_cli_warns_when_it_discards_a_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkpoint of another source is dropped with a warning line naming the reason."""
    monkeypatch.chdir(tmp_path)
    state = tmp_path / "state"
    old = Checkpoint(state, max_age_seconds=3600, clock=lambda: 0.0, wall=lambda: NOW)
    old.begin(StoreIdentity("http://127.0.0.1:1/api", 6, 16))
    old.save(2, {"page": 2, "data": [{"id": 999}]})
    with SimulatedServer(SimulatorConfig(fault_rate=0.0, now=NOW)) as server:
        run = cli_in_process("--api-url", server.base_url, "--output", str(tmp_path / "o.json"),
                             "--state-dir", str(state), *FAST)
    assert run.code == 0, run.stderr
    (warning,) = [line for line in run.stderr.splitlines() if "checkpoint_discarded" in line]
    assert " warning " in warning
    assert 'reason="it belongs to a different source, per_page or total"' in warning
    assert "resumed" not in run.stdout
    assert 999 not in [c["customer_id"] for c in read_strict(tmp_path / "o.json")["customers"]]


def test_a_checkpoint_that_cannot_be_written_never_fails_the_sync(tmp_path: Path) -> None:
    """If the state directory breaks mid-run, a warning is emitted and the sync completes."""
    api = in_process_api(customers=120, seed=2)
    pages = tmp_path / ".pipeline_state" / "pages"

    def break_the_state_dir(event: Event) -> None:
        if event.name == "page_fetched" and event.fields["page"] == 5:
            # One rename: the background writer may be creating a page file right now.
            pages.rename(tmp_path / "gone")
            pages.write_text("not a directory any more")

    report = api.run(settings_for(tmp_path, per_page=6, concurrency=1), hook=break_the_state_dir)
    (failed,) = api.named("checkpoint_write_failed")
    # The pages are written by a background thread: a write that starts between the rename
    # and the new file finds no directory at all.
    assert failed["error"] in ("Not a directory", "No such file or directory")
    assert report.result.counts.records_in == 120
    assert read_strict(tmp_path / "sample_output.json")["customers"] == clean_customers(
        api.final_records()
    )


def test_an_interrupt_in_any_stage_keeps_the_checkpoint_and_the_old_output(
    tmp_path: Path,
) -> None:
    """A real SIGINT while streaming, before finishing the transform or before the export."""
    out = tmp_path / "sample_output.json"
    for stage in ("page_fetched", "transform_finishing", "processed"):
        out.write_text('{"previous": true}')
        api = in_process_api(customers=60)

        def strike(event: Event, stage: str = stage) -> None:
            if event.name == stage:
                signal.raise_signal(signal.SIGINT)

        with pytest.raises(Interrupted) as caught:
            api.run(settings_for(tmp_path, per_page=6, fresh=True), hook=strike)
        assert caught.value.exit_code == 130
        assert caught.value.hint == "run the same command again to resume"
        assert pages_in(tmp_path / ".pipeline_state") >= 1, stage
        assert out.read_text() == '{"previous": true}', stage
        assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")], stage


def test_the_built_in_simulator_resumes_although_its_port_changes(tmp_path: Path) -> None:
    """With no --api-url the checkpoint is keyed on the simulator's data, not its port."""
    settings = settings_for(
        tmp_path, api_url=None, sim_customers=90, sim_fault_rate=0.0, per_page=6
    )
    api = in_process_api()  # only for its fake time
    with pytest.raises(Interrupted):
        api.run(settings, hook=sigint_after_pages(6))
    first_url = api.named("simulator_started")[0]["url"]
    report = api.run(settings)
    assert api.named("simulator_started")[1]["url"] != first_url
    assert report.stats.resumed
    assert report.stats.pages_from_checkpoint >= 5


# -- subprocesses ---------------------------------------------------------------------------
def test_kill_and_resume_gives_the_clean_output_with_fewer_requests(tmp_path: Path) -> None:
    """SIGKILL the CLI after some pages; the rerun resumes, matches a clean run, asks less."""
    data = {"customers": 400, "seed": 8, "now": NOW, "fault_rate": 0.0}
    out, state = tmp_path / "out.json", tmp_path / "state"
    args = ["--per-page", "4", "--concurrency", "2", "--state-dir", str(state), *FAST]
    with SimulatedServer(SimulatorConfig(latency_ms=15, **data)) as server:
        proc = cli_process("--api-url", server.base_url, "--output", str(out), *args,
                           cwd=tmp_path)
        try:
            wait_until(lambda: pages_in(state) >= 30 or proc.poll() is not None)
        finally:
            proc.kill()
            proc.communicate(timeout=30)
        assert proc.returncode == -9
        kept = pages_in(state)
        assert 30 <= kept < 100
        wait_until(lambda: server.stats.snapshot()["in_flight"] == 0)
        before = server.stats.snapshot()["requests"]
        resumed = cli_run("--api-url", server.base_url, "--output", str(out), *args,
                          cwd=tmp_path)
        resumed_requests = server.stats.snapshot()["requests"] - before
    assert resumed.code == 0, resumed.stderr
    assert f"resumed     {kept - 1} pages from the checkpoint" in resumed.stdout

    clean_out = tmp_path / "clean.json"
    with SimulatedServer(SimulatorConfig(**data)) as clean_server:
        clean = cli_run("--api-url", clean_server.base_url, "--output", str(clean_out),
                        "--state-dir", str(tmp_path / "clean_state"), "--per-page", "4", *FAST,
                        cwd=tmp_path)
        clean_requests = clean_server.stats.snapshot()["requests"]
    assert clean.code == 0, clean.stderr
    got, want = validate_output(out), validate_output(clean_out)
    assert got["customers"] == want["customers"]
    assert got["metadata"]["accounting"] == want["metadata"]["accounting"]
    assert clean_requests == 100
    assert resumed_requests == 100 - (kept - 1) < clean_requests
    assert not checkpoint_left(state)


def first_clean_seed(pages: int, per_page: int, **config: Any) -> tuple[int, set[int]]:
    """A seed whose page 1 answers at once while some other pages fail their first try."""
    for seed in range(100):
        injector = FaultInjector(SimulatorConfig(seed=seed, **config))
        failing = {p for p in range(1, pages + 1) if injector.decide((1, p, per_page))}
        if failing and 1 not in failing:
            return seed, failing
    raise AssertionError("no suitable seed")


def test_ctrl_c_during_a_backoff_wait_stops_at_once_and_the_rerun_resumes(
    tmp_path: Path,
) -> None:
    """SIGINT while pages wait out a 30 s backoff: exit 130 at once, pages kept, rerun resumes."""
    faults = {"fault_rate": 0.3, "fault_kinds": ("5xx",), "max_consecutive_failures": 1}
    seed, failing = first_clean_seed(20, 6, **faults)
    out, state = tmp_path / "out.json", tmp_path / "state"
    args = ["--per-page", "6", "--state-dir", str(state), "--no-progress", "--as-of", AS_OF_TEXT]
    with SimulatedServer(SimulatorConfig(customers=120, seed=seed, now=NOW, **faults)) as server:
        with cli_process("--api-url", server.base_url, "--output", str(out), *args,
                         "--backoff-base", "30", "--jitter", "0", cwd=tmp_path) as proc:
            stderr = LineWatcher(proc.stderr)
            try:
                stderr.wait_for(" retry_summary ")
                wait_until(lambda: pages_in(state) == 20 - len(failing))
                struck = time.monotonic()
                proc.send_signal(signal.SIGINT)
                proc.wait(timeout=20)
            finally:
                if proc.poll() is None:
                    proc.kill()
            took = time.monotonic() - struck
            log = stderr.text()
        assert proc.returncode == 130, log
        assert took < 10  # not the 30 s backoff
        assert log.strip().splitlines()[-1] == (
            f"interrupted: stopped; {20 - len(failing)} page(s) are kept in {state} "
            "(run the same command again to resume)"
        )
        assert "Traceback" not in log
        rerun = cli_run("--api-url", server.base_url, "--output", str(out), *args,
                        "--backoff-base", "0.01", cwd=tmp_path)
    assert rerun.code == 0, rerun.stderr
    assert f"resumed     {19 - len(failing)} pages from the checkpoint" in rerun.stdout
    assert read_strict(out)["metadata"]["total_customers"] > 0


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"]
)
def test_ctrl_c_while_pages_stream_into_the_transform_exits_130_and_keeps_pages(
    tmp_path: Path, signum: signal.Signals, code: int
) -> None:
    """SIGINT (130) or SIGTERM (143) mid-sync, while pages are transformed, stops cleanly."""
    out, state = tmp_path / "out.json", tmp_path / "state"
    out.write_text('{"previous": true}')
    config = SimulatorConfig(customers=400, seed=3, now=NOW, fault_rate=0.0, latency_ms=15)
    with SimulatedServer(config) as server:
        proc = cli_process("--api-url", server.base_url, "--output", str(out), "--per-page", "4",
                           "--concurrency", "2", "--state-dir", str(state), *FAST, cwd=tmp_path)
        try:
            wait_until(lambda: pages_in(state) >= 20 or proc.poll() is not None)
            proc.send_signal(signum)
            _, err = proc.communicate(timeout=20)
        finally:
            proc.kill()
    assert proc.returncode == code, err
    assert err.strip().splitlines()[-1].startswith("interrupted: stopped; ")
    assert "Traceback" not in err
    assert pages_in(state) >= 20
    assert out.read_text() == '{"previous": true}'
