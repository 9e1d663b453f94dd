"""Incremental sync end to end: modes, the mark, ties, an ignoring API, moving records."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from customer_sync.errors import ConfigError
from customer_sync.events import Hook
from customer_sync.models import Event
from customer_sync.pipeline import Interrupted
from customer_sync.simulated_api import SimulatedServer, SimulatorConfig
from customer_sync.simulated_api.changes import format_cursor

from ..chaos_support import (
    AS_OF_TEXT,
    NOW,
    InProcessAPI,
    clean_customers,
    cli_in_process,
    cli_run,
    in_process_api,
)
from ..chaos_support import settings_for as base_settings

KEY = "sk_test_INCREMENTAL_0123456789"


def settings_for(tmp: Path, **overrides: Any) -> Any:
    return base_settings(tmp, **{"per_page": 50, "concurrency": 2, **overrides})


def live_records(api: InProcessAPI) -> list[Any]:
    """Every record the API holds now, changes included."""
    live = api.simulator.live
    return live.records(0, len(live)) if live.changed else api.final_records()


def output(tmp: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((tmp / "sample_output.json").read_text())
    return document


def interrupt_after(page: int) -> Hook:
    def hook(event: Event) -> None:
        if event.name == "page_fetched" and event.fields["page"] == page:
            raise KeyboardInterrupt

    return hook


class ChangeDuring(httpx.AsyncBaseTransport):
    """Changes the simulator's data just before the n-th list request goes through."""

    def __init__(self, api: InProcessAPI, at: dict[int, dict[str, Any]]) -> None:
        self._inner = api.transport()
        self._live = api.simulator.live
        self._at = at
        self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/users"):
            self.requests += 1
            batch = self._at.get(self.requests)
            if batch is not None:
                self._live.apply(**batch)
        return await self._inner.handle_async_request(request)


def test_auto_runs_full_first_then_incremental_with_the_output_of_a_full_sync(
    tmp_path: Path,
) -> None:
    """auto: the first run is full; after 1% changes the next is incremental, fetches a
    few pages, and its customers, quality summary and summary equal a full sync's."""
    api = in_process_api(customers=1000, seed=2)
    settings = settings_for(tmp_path)
    first = api.run(settings)
    assert first.metadata["sync"]["mode"] == "full"
    assert first.metadata["sync"]["customers"]["deleted"] is None
    api.time.now += 3600
    api.simulator.live.apply(update=8, insert=2)
    second = api.run(settings)
    sync = second.metadata["sync"]
    assert (sync["mode"], sync["mark_used"]) == ("incremental", first.metadata["sync"]["new_mark"])
    assert sync["since"] == "2026-03-14T14:48:20Z"  # mark - 5 min lookback
    assert sync["new_mark"] == "2026-03-14T15:53:20Z"  # the server's Date
    assert sync["customers"]["new"] == 2
    assert sync["customers"]["updated"] == 8
    assert sync["customers"]["deleted"] is None
    assert second.stats.requests < first.stats.requests / 4
    document = output(tmp_path)
    assert document["customers"] == clean_customers(live_records(api))
    reference = tmp_path / "full"
    reference.mkdir()
    full = api.run(settings_for(reference, sync_mode="full"))
    assert full.metadata["sync"]["mode"] == "full"
    for name in ("total_customers", "data_quality_summary", "summary"):
        assert document["metadata"][name] == output(reference)["metadata"][name], name
    accounting = sync["accounting"]
    assert accounting["fetched"] == accounting["kept"] + accounting["superseded"] + (
        accounting["unkeyed"])
    assert second.result.counts.records_in == accounting["carried"] + accounting["kept"] + (
        accounting["unkeyed"])


def test_full_refresh_sees_deletions_that_incremental_runs_cannot(tmp_path: Path) -> None:
    """Deleted customers stay until a full sync, which reports them (count and ids)."""
    api = in_process_api(customers=400, seed=4)
    settings = settings_for(tmp_path)
    api.run(settings)
    gone = api.simulator.live.apply(delete=3).deleted
    incremental = api.run(settings)
    assert incremental.metadata["sync"]["mode"] == "incremental"
    exported = {c["customer_id"] for c in output(tmp_path)["customers"]}
    assert set(gone) <= exported
    full = api.run(settings_for(tmp_path, full_refresh=True))
    sync = full.metadata["sync"]
    assert (sync["mode"], sync["reason"]) == ("full", "--full-refresh was given")
    assert sync["customers"]["deleted"] == 3
    assert sync["deleted_ids"] == sorted(gone)
    assert output(tmp_path)["customers"] == clean_customers(live_records(api))


def test_sync_runs_record_the_mode_the_marks_and_the_counts(
    tmp_path: Path, pg_database: str
) -> None:
    """Each destination's sync_runs row carries what the metadata's sync object says: the
    mode, the mark used and the new mark, and the new, updated, unchanged and deleted
    customers (deleted only on a full sync with a previous state)."""
    import duckdb
    import polars as pl
    import psycopg

    api = in_process_api(customers=300, seed=6)
    destinations = [
        f"json:{tmp_path / 'sample_output.json'}",
        f"duckdb:{tmp_path / 'c.duckdb'}",
        f"parquet:{tmp_path / 'lake'}",
        f"{pg_database}?schema=incremental",
    ]
    settings = settings_for(tmp_path, destination=destinations)
    runs = [api.run(settings)]
    api.time.now += 3600
    api.simulator.live.apply(update=5, insert=2)
    runs.append(api.run(settings))
    api.time.now += 3600
    api.simulator.live.apply(delete=4)
    runs.append(api.run(settings_for(tmp_path, destination=destinations, full_refresh=True)))
    assert [r.metadata["sync"]["mode"] for r in runs] == ["full", "incremental", "full"]

    columns = ["run_id", "sync_mode", "mark_used", "new_mark", "customers_new",
               "customers_updated", "customers_unchanged", "customers_deleted"]
    query = f"SELECT {', '.join(columns)} FROM sync_runs"
    with duckdb.connect(str(tmp_path / "c.duckdb"), read_only=True) as con:
        in_duckdb = con.sql(query).pl().rows()
    in_parquet = pl.read_parquet(tmp_path / "lake" / "sync_runs.parquet").select(columns).rows()
    with psycopg.connect(pg_database) as conn:
        in_postgres = conn.execute(query.replace("sync_runs", "incremental.sync_runs")).fetchall()

    def mark(text: str | None) -> Any:
        return None if text is None else datetime.fromisoformat(text)

    expected = []
    for run in runs:
        sync = run.metadata["sync"]
        counts = sync["customers"]
        expected.append((
            run.metadata["run_id"], sync["mode"], mark(sync["mark_used"]),
            mark(sync["new_mark"]), counts["new"], counts["updated"], counts["unchanged"],
            counts["deleted"],
        ))
    assert expected[1][1:3] == ("incremental", mark(runs[0].metadata["sync"]["new_mark"]))
    assert expected[1][4:6] == (2, 5)
    assert expected[1][7] is None
    assert expected[2][7] == 4
    assert sorted(in_duckdb) == sorted(in_parquet) == sorted(in_postgres) == sorted(expected)


def test_full_refresh_every_forces_a_full_sync_when_the_last_one_is_older(
    tmp_path: Path,
) -> None:
    """--full-refresh-every 7d: a run eight days after the last full sync is full."""
    api = in_process_api(customers=100)
    settings = settings_for(tmp_path, full_refresh_every="7d")
    api.run(settings)
    assert api.run(settings, now=NOW + timedelta(days=6)).metadata["sync"]["mode"] == (
        "incremental")
    late = api.run(settings, now=NOW + timedelta(days=8))
    assert late.metadata["sync"]["mode"] == "full"
    assert "--full-refresh-every 7d" in late.metadata["sync"]["reason"]


def test_other_credentials_never_use_the_saved_state_and_no_key_is_stored(
    tmp_path: Path,
) -> None:
    """A state made with one key is not used with another (full sync, one warning), and
    neither key appears in the state files."""
    api = in_process_api(customers=60)
    api.run(settings_for(tmp_path, api_key=KEY))
    other = api.run(settings_for(tmp_path, api_key=KEY + "B"))
    assert other.metadata["sync"]["mode"] == "full"
    assert other.metadata["sync"]["reason"] == "the saved state was made with other credentials"
    assert [e["reason"] for e in api.named("sync_state_not_used")] == [
        "the saved state was made with other credentials"
    ]
    state = tmp_path / ".pipeline_state" / "sync_state"
    written = b"".join(p.read_bytes() for p in state.rglob("*") if p.is_file())
    assert written
    assert KEY.encode() not in written
    again = api.run(settings_for(tmp_path, api_key=KEY + "B"))
    assert again.metadata["sync"]["mode"] == "incremental"


def test_an_api_that_ignores_the_parameter_is_detected_once_and_finishes_as_full(
    tmp_path: Path,
) -> None:
    """Records older than updated_since mean the filter was ignored: one warning, and the
    run is a full sync (deletions seen), never a wrong merge."""
    honest = in_process_api(customers=300, seed=6)
    settings = settings_for(tmp_path)
    honest.run(settings)
    liar = in_process_api(customers=300, seed=6, ignore_incremental_param=True)
    gone = liar.simulator.live.apply(delete=2, update=3).deleted
    liar.time.now += 3600
    report = liar.run(settings)
    sync = report.metadata["sync"]
    assert (sync["mode"], sync["param_ignored"]) == ("full", True)
    assert sync["reason"] == "the API ignored updated_since (finished as full)"
    warnings = liar.named("incremental_param_ignored")
    assert len(warnings) == 1
    assert warnings[0]["older_records"] > 0
    assert sync["customers"]["deleted"] == 2
    assert sync["deleted_ids"] == sorted(gone)
    assert output(tmp_path)["customers"] == clean_customers(live_records(liar))


def test_tied_cursor_250_records_across_a_page_boundary_interrupted_between_pages(
    tmp_path: Path,
) -> None:
    """250 records share the mark's updated_at across page boundaries; the run stops
    between those pages, the tie grows and changes while it is stopped, and the resumed
    run plus the next one lose nothing and duplicate nothing (lookback 0: the inclusive
    filter alone carries the tie)."""
    api = in_process_api(customers=600, seed=5)
    settings = settings_for(tmp_path, per_page=100, concurrency=1, lookback="0s")
    api.run(settings)
    api.time.now += 3600
    tied_at = api.time.wall()
    tied = api.simulator.live.apply(tie=250).tied
    with pytest.raises(Interrupted):
        api.run(settings, hook=interrupt_after(2))  # pages 1-2 kept; the tie runs on
    # While stopped: ten tied customers change again in the very same second.
    api.simulator.live.apply(ids=tied[:10], at=tied_at)
    api.time.now += 10
    resumed = api.run(settings)
    sync = resumed.metadata["sync"]
    assert resumed.stats.pages_from_checkpoint == 1  # page 2; page 1 is always fetched
    assert sync["mode"] == "incremental"
    assert sync["new_mark"] == format_cursor(tied_at)[:19] + "Z"  # the stopped run's start
    exported = [c["customer_id"] for c in output(tmp_path)["customers"]]
    assert len(exported) == len(set(exported))
    assert set(exported) == {c["customer_id"] for c in clean_customers(live_records(api))}
    after = api.run(settings)  # asks for updated_since = the tie's second, inclusive
    assert after.metadata["sync"]["since"] == sync["new_mark"]
    assert after.metadata["sync"]["customers"]["updated"] <= 10
    assert after.metadata["sync"]["refetched_at_mark"] >= 240
    assert output(tmp_path)["customers"] == clean_customers(live_records(api))


def test_a_record_that_moves_while_the_delta_is_read_makes_another_walk(
    tmp_path: Path,
) -> None:
    """An update during an incremental run sends a record to the end of the order (it
    shows up twice, a neighbour may slip onto a read page): the delta is walked again."""
    api = in_process_api(customers=800, seed=8)
    settings = settings_for(tmp_path, per_page=20, concurrency=1)
    api.run(settings)
    api.time.now += 3600
    tied = api.simulator.live.apply(tie=100).tied
    api.time.now += 5
    moving = ChangeDuring(api, {3: {"ids": sorted(tied)[:2]}})  # two read on page 1
    report = api.run(settings, transport=moving)
    sync = report.metadata["sync"]
    assert sync["walks"] >= 2
    assert api.named("delta_moved")
    assert output(tmp_path)["customers"] == clean_customers(live_records(api))


def test_a_server_without_a_date_header_marks_from_the_local_clock(tmp_path: Path) -> None:
    """No Date header: the mark is the run's local start, said so in the metadata."""

    class NoDate(httpx.AsyncBaseTransport):
        def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
            self._inner = inner

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            response = await self._inner.handle_async_request(request)
            del response.headers["date"]
            return response

    api = in_process_api(customers=30)
    report = api.run(settings_for(tmp_path), transport=NoDate(api.transport()))
    assert report.metadata["sync"]["mark_source"] == "local_clock"
    assert report.metadata["sync"]["new_mark"] == "2026-03-14T15:09:26Z"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--lookback", "five minutes"], "--lookback / PIPELINE_LOOKBACK"),
        (["--full-refresh-every", "0d"], "--full-refresh-every / PIPELINE_FULL_REFRESH_EVERY"),
        (["--incremental-param", "a b"], "--incremental-param / PIPELINE_INCREMENTAL_PARAM"),
    ],
)
def test_bad_incremental_settings_exit_2_with_one_line(
    args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bad mode, duration or parameter name is a configuration error (exit 2)."""
    monkeypatch.chdir(tmp_path)
    run = cli_in_process(*args, environ={})
    assert run.code == ConfigError.exit_code
    assert message in run.last_line
    assert "Traceback" not in run.stderr


def test_an_unknown_sync_mode_from_the_environment_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PIPELINE_SYNC_MODE=sometimes is refused like any bad setting."""
    monkeypatch.chdir(tmp_path)
    run = cli_in_process(environ={"PIPELINE_SYNC_MODE": "sometimes"})
    assert run.code == ConfigError.exit_code
    assert "--sync-mode / PIPELINE_SYNC_MODE" in run.last_line


@pytest.mark.slow
def test_the_command_line_runs_full_then_incremental_over_loopback(tmp_path: Path) -> None:
    """Two runs of the CLI against a real server: full, then incremental after changes,
    each saying so in its summary; the output equals a full sync's."""
    config = SimulatorConfig(customers=500, seed=3, fault_rate=0.0, now=NOW)
    with SimulatedServer(config) as server:
        args = ["--api-url", server.base_url, "--per-page", "50", "--as-of", AS_OF_TEXT,
                "--no-progress", "--output", str(tmp_path / "sample_output.json")]
        first = cli_run(*args, cwd=tmp_path)
        assert first.code == 0, first.stderr
        assert "mode        full (no saved state for this source)" in first.stdout
        server.simulator.live.apply(update=5, insert=1)
        second = cli_run(*args, cwd=tmp_path)
        assert second.code == 0, second.stderr
        assert "merged      1 new, 5 updated" in second.stdout
        records = server.simulator.live.records(0, len(server.simulator.live))
    assert output(tmp_path)["customers"] == clean_customers(records)


def test_an_interrupted_run_keeps_the_saved_state_and_its_parts_are_swept(
    tmp_path: Path,
) -> None:
    """The snapshot is written to the state directory as the run goes (Parquet parts under
    a ``.partial`` name). A run stopped before its output is written leaves the saved state
    whole: the next run is still incremental from it, gives a full sync's output, and
    sweeps the leftovers."""
    api = in_process_api(customers=400, seed=6)
    settings = settings_for(tmp_path, per_page=20)
    api.run(settings)
    state = tmp_path / ".pipeline_state" / "sync_state"
    saved = (state / "state.parquet").read_bytes()
    snapshots = sorted(p.name for p in state.glob("snapshot-*"))
    api.simulator.live.apply(update=30, insert=5)
    def stop_before_writing(event: Event) -> None:
        if event.name == "processed":  # the snapshot is built, nothing is written yet
            raise KeyboardInterrupt

    with pytest.raises(Interrupted):
        api.run(settings_for(tmp_path, per_page=20, full_refresh=True), hook=stop_before_writing)
    leftovers = [p for p in state.iterdir() if p.name.endswith(".partial")]
    assert leftovers, "the stopped run had started writing its snapshot"
    assert (state / "state.parquet").read_bytes() == saved
    assert sorted(p.name for p in state.glob("snapshot-*") if p not in leftovers) == snapshots
    resumed = api.run(settings)
    assert resumed.metadata["sync"]["mode"] == "incremental"
    assert output(tmp_path)["customers"] == clean_customers(live_records(api))
    names = sorted(p.name for p in state.iterdir())
    assert not [name for name in names if name.endswith(".partial")]
    assert len([name for name in names if name.startswith("snapshot-")]) == 1
