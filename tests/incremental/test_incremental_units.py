"""The pure parts of incremental sync: the plan, the merge, the snapshot, durations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from customer_sync.config import parse_duration
from customer_sync.incremental import (
    SnapshotBuilder,
    compare,
    decode_records,
    encode_record,
    merge_delta,
    plan_sync,
)
from customer_sync.rules import BusinessRules
from customer_sync.state import ParquetStateStore, StateIdentity, SyncState

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


def test_merge_replaces_by_id_and_counts_new_updated_unchanged() -> None:
    """A delta version replaces the snapshot's; the rest is carried; deletions unknown."""
    previous = {n: encode_record(record(n)) for n in (1, 2, 3, 4)}
    delta = {2: encode_record(record(2, plan="pro")), 3: previous[3],
             9: encode_record(record(9))}
    merged = merge_delta(previous, delta)
    assert sorted(merged.snapshot) == [1, 2, 3, 4, 9]
    assert merged.snapshot[2] == delta[2]
    assert merged.counts.as_dict() == {"new": 1, "updated": 1, "unchanged": 3, "deleted": None}
    assert merged.carried == 2


def test_a_full_sync_compares_every_id_and_lists_the_deleted() -> None:
    """Full: new, updated, unchanged and deleted against the previous snapshot."""
    previous = {n: encode_record(record(n)) for n in (1, 2, 3)}
    current = {1: previous[1], 2: encode_record(record(2, plan="pro")),
               7: encode_record(record(7))}
    counts = compare(previous, current)
    assert counts.as_dict() == {"new": 1, "updated": 1, "unchanged": 1, "deleted": 1}
    assert counts.deleted_ids == (3,)


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
        snapshot={1: encode_record(record(1)), 2: encode_record(record(2, big=2**70))},
    )
    store.save(state)
    loaded, problem = store.load()
    assert problem is None
    assert loaded is not None
    assert loaded.problem_with(identity) is None
    assert (loaded.mark, loaded.ids_at_mark, dict(loaded.snapshot)) == (
        MARK, (2, 3), dict(state.snapshot))
    other = StateIdentity(identity.source, "updated_since", "updated_at",
                          credentials=("sk_OTHER",))
    assert loaded.problem_with(other) == "the saved state was made with other credentials"
    written = b"".join(p.read_bytes() for p in (tmp_path / "sync_state").iterdir())
    assert b"sk_SECRET_KEY_1" not in written
    assert sorted(p.name for p in (tmp_path / "sync_state").iterdir()) == [
        "snapshot-0123456789abcdef.parquet", "state.parquet"]


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
