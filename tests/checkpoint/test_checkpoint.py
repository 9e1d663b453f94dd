"""The disk checkpoint: identity, age, fresh, privacy, and cleanup."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import zstandard

from customer_sync.checkpoint import Checkpoint
from customer_sync.models import Event
from customer_sync.source.page_store import StoreIdentity

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
URL = "http://127.0.0.1:9/api"


def make(tmp_path: Path, *, now: datetime = T0, fresh: bool = False,
         events: list[Event] | None = None) -> Checkpoint:
    sink = events if events is not None else []
    return Checkpoint(tmp_path / "state", max_age_seconds=3600, fresh=fresh,
                      hook=sink.append, clock=lambda: 0.0, wall=lambda: now)


def test_saved_pages_are_loaded_by_the_next_run(tmp_path: Path) -> None:
    """Pages saved by one run are served to the next run with the same identity."""
    first = make(tmp_path)
    first.begin(StoreIdentity(URL, 6, 12))
    assert first.resumable_pages == 0
    first.save(1, {"page": 1, "data": [{"id": 1}]})
    first.save(2, {"page": 2, "data": [{"id": 7}]})
    events: list[Event] = []
    second = make(tmp_path, events=events)
    second.begin(StoreIdentity(URL, 6, 12))
    assert second.resumable_pages == 1  # page 1 is always fetched again
    assert second.load(2) == {"page": 2, "data": [{"id": 7}]}
    assert second.load(3) is None
    assert [e.name for e in events] == ["resumed"]


@pytest.mark.parametrize(
    ("url", "per_page", "total", "later", "fresh", "reason"),
    [
        ("http://other:9/api", 6, 12, 0, False, "different source"),
        (URL, 25, 12, 0, False, "different source"),
        (URL, 6, 13, 0, False, "different source"),
        (URL, 6, 12, 2, False, "older than 1 h"),
        (URL, 6, 12, 0, True, "--fresh"),
    ],
)
def test_mismatched_checkpoint_is_discarded_with_a_warning(
    tmp_path: Path, url: str, per_page: int, total: int, later: int, fresh: bool, reason: str
) -> None:
    """A checkpoint of another source, per_page or total, too old, or with --fresh is dropped."""
    first = make(tmp_path)
    first.begin(StoreIdentity(URL, 6, 12))
    first.save(1, {"page": 1, "data": []})
    events: list[Event] = []
    second = make(tmp_path, now=T0 + timedelta(hours=later), fresh=fresh, events=events)
    second.begin(StoreIdentity(url, per_page, total))
    assert second.resumable_pages == 0
    assert second.load(1) is None
    assert events[0].name == "checkpoint_discarded"
    assert reason in events[0].fields["reason"]


def test_files_are_private_and_hold_no_key(tmp_path: Path) -> None:
    """Pages are 0600 in a 0700 directory, and a key in the URL is masked in the manifest."""
    cp = make(tmp_path)
    cp.begin(StoreIdentity(URL + "?api_key=sk-secret", 6, 12))
    cp.save(3, {"data": []})
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700
    page = tmp_path / "state" / "pages" / "000003.json.zst"
    assert stat.S_IMODE(page.stat().st_mode) == 0o600
    assert "sk-secret" not in (tmp_path / "state" / "manifest.json").read_text()


def test_clear_removes_only_what_it_created(tmp_path: Path) -> None:
    """clear() deletes the checkpoint files but never a user's other files."""
    cp = make(tmp_path)
    cp.begin(StoreIdentity(URL, 6, 12))
    cp.save(1, {"data": []})
    keep = tmp_path / "state" / "notes.txt"
    keep.write_text("mine")
    cp.clear()
    assert keep.exists()
    assert not (tmp_path / "state" / "pages").exists()
    assert not (tmp_path / "state" / "manifest.json").exists()


def test_torn_page_is_treated_as_missing(tmp_path: Path) -> None:
    """A page file that does not parse (torn frame, or torn JSON inside) is fetched again."""
    cp = make(tmp_path)
    cp.begin(StoreIdentity(URL, 6, 12))
    cp.save(2, {"data": [{"id": 1}]})
    cp.save(3, {"data": [{"id": 2}]})
    pages = tmp_path / "state" / "pages"
    whole = (pages / "000002.json.zst").read_bytes()
    (pages / "000002.json.zst").write_bytes(whole[: len(whole) // 2])
    (pages / "000003.json.zst").write_bytes(zstandard.compress(b'{"data": ['))
    again = make(tmp_path)
    again.begin(StoreIdentity(URL, 6, 12))
    assert again.load(2) is None
    assert again.load(3) is None


def test_lenient_pages_round_trip_exactly(tmp_path: Path) -> None:
    """A page only the lenient parser took (NaN, a 70-bit id) comes back from disk unchanged."""
    from customer_sync.source.envelope import decode_body

    body = decode_body(b'{"data": [{"id": 1180591620717411303424, "ltv": NaN}]}', page=1)
    cp = make(tmp_path)
    cp.begin(StoreIdentity(URL, 6, 12))
    cp.save(1, body)
    again = make(tmp_path)
    again.begin(StoreIdentity(URL, 6, 12))
    loaded = again.load(1)
    assert loaded is not None
    record = loaded["data"][0]
    assert record["id"] == 2**70
    assert record["ltv"] != record["ltv"]  # NaN, not null


def test_pages_on_disk_are_compressed_and_exact(tmp_path: Path) -> None:
    """A page is stored zstd-compressed, at most a quarter of its JSON, and reads back equal."""
    from customer_sync import jsoncodec

    body = {"page": 1, "data": [
        {"id": n, "email": f"user{n}@example.com", "first_name": "Ann", "ltv": 12.5 * n,
         "created_at": "2024-01-02T03:04:05Z", "big": 2**70 + n}
        for n in range(1, 500)
    ]}
    cp = make(tmp_path)
    cp.begin(StoreIdentity(URL, 6, 12))
    cp.save(1, body)
    cp.save(2, body)
    stored = (tmp_path / "state" / "pages" / "000002.json.zst").read_bytes()
    assert zstandard.decompress(stored) == jsoncodec.dumps_exact(body)
    assert len(stored) <= len(jsoncodec.dumps_exact(body)) / 4
    again = make(tmp_path)
    again.begin(StoreIdentity(URL, 6, 12))
    assert again.load(2) == body


def test_background_writes_are_on_disk_after_flush(tmp_path: Path) -> None:
    """With background=True pages are written by a worker; flush() waits for all of them."""
    cp = Checkpoint(tmp_path / "state", max_age_seconds=3600, clock=lambda: 0.0,
                    wall=lambda: T0, background=True)
    cp.begin(StoreIdentity(URL, 6, 12))
    for page in range(1, 41):  # more than the writer's queue holds
        cp.save(page, {"page": page, "data": [{"id": page}]})
    cp.flush()
    assert cp.saved_pages == 40
    assert cp.pages_on_disk() == 40
    assert cp.load(17) == {"page": 17, "data": [{"id": 17}]}
    cp.close()
    again = make(tmp_path)
    again.begin(StoreIdentity(URL, 6, 12))
    assert again.resumable_pages == 39


def test_a_background_write_failure_warns_once_on_the_callers_thread(tmp_path: Path) -> None:
    """ENOSPC in the worker: one warning, from flush's thread; the partial checkpoint is gone."""
    import errno
    import os
    import threading

    from customer_sync import atomic

    written: list[Path] = []

    def disk(path: Path, data: bytes) -> None:
        if len(written) >= 4:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        atomic.write_bytes(path, data, mode=0o600, durable=False)
        written.append(path)

    threads: list[str] = []
    events: list[Event] = []

    def hook(event: Event) -> None:
        threads.append(threading.current_thread().name)
        events.append(event)

    cp = Checkpoint(tmp_path / "state", max_age_seconds=3600, clock=lambda: 0.0,
                    wall=lambda: T0, hook=hook, write_file=disk, background=True)
    cp.begin(StoreIdentity(URL, 6, 12))
    for page in range(1, 30):
        cp.save(page, {"data": [{"id": page}]})
    cp.close()
    assert [e.name for e in events] == ["checkpoint_write_failed"]
    assert events[0].fields["error"] == "No space left on device"
    assert threads == [threading.current_thread().name]
    assert not (tmp_path / "state").exists()
    assert cp.saved_pages == 3  # the manifest took the first of the 4 writes that worked


@pytest.mark.parametrize(
    "content",
    [
        b'{"page": 2, "data": [{"id": 1180591620717411303424, "ltv": NaN, "n": -0.0}]}',
        b'{ "data" : [ {"id": 1, "name": "\\ud800 lone", "x": 1e400} ] ,"page":2}',
        b'{"data": [' + b"[" * 300 + b"]" * 300 + b"]}",
    ],
    ids=["big-int-nan", "spacing-surrogate-inf", "deep"],
)
def test_received_bytes_are_stored_as_sent_and_resume_exactly(
    tmp_path: Path, content: bytes
) -> None:
    """save(content=...) keeps the API's own bytes; load decodes them as the fetch did."""
    from customer_sync.source.envelope import decode_body

    body = decode_body(content, page=2)
    cp = make(tmp_path)
    cp.begin(StoreIdentity(URL, 6, 12))
    cp.save(2, body, content=content)
    stored = (tmp_path / "state" / "pages" / "000002.json.zst").read_bytes()
    assert zstandard.decompress(stored) == content
    assert cp.json_bytes == len(content)
    again = make(tmp_path)
    again.begin(StoreIdentity(URL, 6, 12))
    loaded = again.load(2)
    assert repr(loaded) == repr(decode_body(content, page=2))  # NaN, -0.0 and types too
