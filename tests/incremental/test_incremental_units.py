"""The pure parts of incremental sync: the plan, the merge, the snapshot, durations."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from customer_sync.config import parse_duration
from customer_sync.incremental import (
    KEY,
    Snapshot,
    SnapshotBuilder,
    SnapshotFrames,
    compare_snapshots,
    decode_records,
    encode_record,
    plan_sync,
    snapshot_changes,
)
from customer_sync.rules import BusinessRules
from customer_sync.state import ParquetStateStore, StateIdentity, SyncState
from customer_sync.transform import CustomerDataProcessor

NOW = datetime(2026, 3, 14, 15, 0, 0, tzinfo=UTC)
MARK = NOW - timedelta(hours=1)
DAY = 86_400.0


@pytest.mark.parametrize(
    ("mode", "refresh", "every", "mark", "last_full", "problem", "expected", "reason"),
    [
        ("auto", False, None, None, None, None, "full", "no saved state for this source"),
        ("auto", False, None, None, None, "the saved state was made with other credentials",
         "full", "the saved state was made with other credentials"),
        ("auto", False, None, MARK, MARK, None, "incremental", "a saved state exists"),
        ("incremental", False, None, None, None, None, "full", "no saved state"),
        ("incremental", False, None, MARK, MARK, None, "incremental", "a saved state"),
        ("full", False, None, MARK, MARK, None, "full", "--sync-mode full"),
        ("auto", True, None, MARK, MARK, None, "full", "--full-refresh was given"),
        ("auto", False, 7 * DAY, MARK, NOW - timedelta(days=6), None, "incremental", "saved"),
        ("auto", False, 7 * DAY, MARK, NOW - timedelta(days=7), None, "full", "7.0 days old"),
    ],
)
def test_the_plan_picks_the_mode_and_says_why(
    mode: Any, refresh: bool, every: float | None, mark: datetime | None,
    last_full: datetime | None, problem: str | None, expected: str, reason: str,
) -> None:
    """auto/full/incremental, --full-refresh and --full-refresh-every decide the mode."""
    plan = plan_sync(sync_mode=mode, full_refresh=refresh, full_refresh_every=every,
                     lookback=300, mark=mark, last_full_sync_at=last_full,
                     state_problem=problem, now=NOW)
    assert plan.mode == expected
    assert reason in plan.reason
    if expected == "incremental":
        assert plan.since == MARK - timedelta(minutes=5)


def record(number: Any, stamp: str = "2026-03-14T10:00:00Z", **extra: Any) -> dict[str, Any]:
    return {"id": number, "email": f"u{number}@example.com", "updated_at": stamp, **extra}


def builder(records: list[Any]) -> SnapshotBuilder:
    built = SnapshotBuilder("updated_at", NOW, BusinessRules())
    built.add(records)
    return built


def test_the_snapshot_keeps_one_newest_record_per_id_and_accounts_for_every_record() -> None:
    """Repeats, exact duplicates and older versions are superseded; id-less records are
    unkeyed; fetched = kept + superseded + unkeyed."""
    old, new = record(1, "2026-03-14T10:00:00Z"), record(1, "2026-03-14T11:00:00Z", plan="pro")
    built = builder([new, record(2), record(2), old, {"id": None}, "junk", record("3")])
    assert sorted(built.records) == [1, 2, 3]
    assert built.records[1] == encode_record(new)  # the later updated_at wins, not arrival
    assert built.moved == {1}
    assert (built.fetched, built.kept, built.superseded, len(built.unkeyed)) == (7, 3, 2, 2)
    assert built.fetched == built.kept + built.superseded + len(built.unkeyed)


def snapshot(
    records: list[Any], cursor_field: str = "updated_at", spill_dir: Path | None = None
) -> Snapshot:
    """The snapshot a full sync of ``records`` keeps: the transform's extracted columns."""
    frames = SnapshotFrames(cursor_field, NOW, BusinessRules(), spill_dir=spill_dir)
    processor = CustomerDataProcessor(as_of=NOW, extra_fields=[cursor_field])
    processor.tap(frames.add)
    processor.add_batch(records)
    processor.finish()
    return frames.build()


@pytest.mark.parametrize("spilled", [False, True], ids=["in memory", "spilled to disk"])
def test_the_column_snapshot_keeps_the_newest_version_of_each_id(
    spilled: bool, tmp_path: Path
) -> None:
    """One row per id, by the builder's rule: a later arrival wins unless its cursor is
    readable and older; id-less records are not kept; superseded rows are counted. Spilled,
    the rows are Parquet parts on disk, private to the user."""
    old, new = record(1, "2026-03-14T10:00:00Z"), record(1, "2026-03-14T11:00:00Z", plan="pro")
    built = snapshot(
        [new, record(2), record(2, plan="basic"), old, {"id": None}, "junk", record("3")],
        spill_dir=tmp_path / "parts" if spilled else None,
    )
    frame = built.frame().collect().sort(KEY)
    assert frame[KEY].to_list() == [1, 2, 3]
    assert frame["plan"].to_list() == ["pro", "basic", None]
    assert (built.height, len(built.dropped)) == (3, 2)
    if spilled:
        parts = list((tmp_path / "parts").iterdir())
        assert parts
        assert all(stat.S_IMODE(part.stat().st_mode) == 0o600 for part in parts)


def test_the_cursor_field_need_not_be_a_field_the_rules_read() -> None:
    """A custom cursor field is kept as text and decides between versions."""
    built = snapshot(
        [record(1, plan="new", modified="2026-03-14T12:00:00Z"),
         record(1, plan="old", modified="2026-03-14T09:00:00Z")],
        cursor_field="modified",
    )
    frame = built.frame().collect()
    assert frame["plan"].to_list() == ["new"]
    assert frame["_extra:modified"].to_list() == ["2026-03-14T12:00:00Z"]


def test_changes_count_new_updated_and_unchanged_by_what_the_transform_reads() -> None:
    """A changed plan is an update; a key that appears (even as null) is one too; the same
    values are unchanged."""
    previous = snapshot([record(1), record(2), record(3), record(4)])
    current = snapshot([record(2, plan="pro"), record(3), record(4, country=None), record(9)])
    new, updated, unchanged = snapshot_changes(previous.frame(), current.frame())
    assert (new, updated, unchanged.to_list()) == (1, 2, [3])


def test_a_full_sync_compares_every_id_and_lists_the_deleted() -> None:
    """Full: new, updated, unchanged and deleted against the previous snapshot."""
    previous = snapshot([record(1), record(2), record(3)])
    current = snapshot([record(1), record(2, plan="pro"), record(7)])
    counts = compare_snapshots(previous, current)
    assert counts.as_dict() == {"new": 1, "updated": 1, "unchanged": 1, "deleted": 1}
    assert counts.deleted_ids == (3,)
    assert compare_snapshots(None, current).as_dict() == {
        "new": 3, "updated": 0, "unchanged": 0, "deleted": None}


def test_records_round_trip_exactly_big_integers_included() -> None:
    """Encoded snapshot records decode to the very same values (2**70 stays an int)."""
    records = [record(1, big=2**70 + 1), record(2, nested={"a": [1.5, None, "é"]})]
    assert decode_records([encode_record(r) for r in records]) == records


def test_the_state_round_trips_through_parquet_and_never_holds_the_key(tmp_path: Any) -> None:
    """Saved and loaded: the same state; the key appears in no file; another key is refused."""
    store = ParquetStateStore(tmp_path / "sync_state")
    identity = StateIdentity("http://api.test/api", "updated_since", "updated_at",
                             credentials=("sk_SECRET_KEY_1",))
    salt = SyncState.new_salt()
    state = SyncState(
        source=identity.source, incremental_param="updated_since", cursor_field="updated_at",
        salt=salt, credentials=identity.digest(salt), mark=MARK, mark_source="server_date",
        last_full_sync_at=MARK, run_id="0123456789abcdef", ids_at_mark=(2, 3),
        snapshot=snapshot([record(1), record(2, lifetime_value=2**70)]),
    )
    store.save(state)
    loaded, problem = store.load()
    assert problem is None
    assert loaded is not None
    assert loaded.problem_with(identity) is None
    assert (loaded.mark, loaded.ids_at_mark) == (MARK, (2, 3))
    assert loaded.snapshot.frame().collect().equals(state.snapshot.frame().collect())
    assert loaded.snapshot.frame().collect()["lifetime_value"].to_list() == [None, str(2**70)]
    other = StateIdentity(identity.source, "updated_since", "updated_at",
                          credentials=("sk_OTHER",))
    assert loaded.problem_with(other) == "the saved state was made with other credentials"
    written = b"".join(p.read_bytes() for p in (tmp_path / "sync_state").rglob("*") if p.is_file())
    assert b"sk_SECRET_KEY_1" not in written
    assert sorted(p.name for p in (tmp_path / "sync_state").iterdir()) == [
        "snapshot-0123456789abcdef", "state.parquet"]


def test_a_torn_or_foreign_state_is_not_used(tmp_path: Any) -> None:
    """An unreadable state file means no state (and why), never a crash."""
    directory = tmp_path / "sync_state"
    directory.mkdir()
    (directory / "state.parquet").write_bytes(b"PAR1 not really")
    assert ParquetStateStore(directory).load() == (None, "the saved state cannot be read")


def test_an_interrupted_runs_start_is_kept_until_the_next_save(tmp_path: Any) -> None:
    """run_started keeps the earliest start per scope: a resumed run marks no later."""
    store = ParquetStateStore(tmp_path / "sync_state")
    assert store.run_started("scope", MARK) == MARK
    assert store.run_started("scope", NOW) == MARK
    assert store.run_started("other", NOW) == NOW
    later = NOW + timedelta(days=2)  # past the checkpoint's max age: it no longer counts
    assert store.run_started("other", later) == later


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("7d", 7 * DAY), ("5m", 300.0), ("90s", 90.0), ("1h30m", 5400.0), ("300", 300.0),
     ("2w", 14 * DAY), ("0.5h", 1800.0), (" 12h ", 43_200.0), (42, 42.0)],
)
def test_durations_read_like_people_write_them(text: Any, seconds: float) -> None:
    """--lookback and --full-refresh-every take 7d, 5m, 1h30m, 90s or plain seconds."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "five", "5x", "m5", "1d-2h"])
def test_a_duration_that_is_none_is_refused(text: str) -> None:
    """Anything else is a ValueError (pydantic turns it into the one-line config error)."""
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)
