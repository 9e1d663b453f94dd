"""The checkpoint under hostile conditions (issue 12, items 3 to 6): planted symlinks,
another tenant's credentials, huge integers, a full disk and a clock in the future."""

from __future__ import annotations

import errno
import io
import json
import logging
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from customer_sync import atomic, jsoncodec
from customer_sync.checkpoint import Checkpoint, credentials_digest
from customer_sync.logs import configure_logging, log_hook
from customer_sync.models import Event, ProcessCounts, ProcessResult, Rejection
from customer_sync.sink.json_file import JsonFileSink, rejected_path
from customer_sync.sink.summary import to_frame
from customer_sync.source.envelope import decode_body
from customer_sync.source.page_store import StoreIdentity

from ..chaos_support import in_process_api, settings_for

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
URL = "http://127.0.0.1:9/api?key=***"
IDENTITY = StoreIdentity(URL, 6, 12)


def make(tmp_path: Path, *, now: datetime = T0, credentials: tuple[str, ...] = (),
         events: list[Event] | None = None, **kw: Any) -> Checkpoint:
    sink = events if events is not None else []
    return Checkpoint(tmp_path / "state", max_age_seconds=3600, hook=sink.append,
                      clock=lambda: 0.0, wall=lambda: now, credentials=credentials, **kw)


# -- item 3: temp files never follow a symlink --------------------------------------------
def test_a_symlink_planted_at_a_page_temp_name_is_never_followed(tmp_path: Path) -> None:
    """Links at both temp names of a page leave their target untouched; the page is 0600."""
    cp = make(tmp_path)
    cp.begin(IDENTITY)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    page = tmp_path / "state" / "pages" / "000002.json.zst"
    for name in (page.with_name(page.name + ".tmp"), atomic.temp_name(page)):
        name.symlink_to(victim)
    cp.save(2, {"data": [{"id": 1, "email": "a@b.co"}]})
    assert victim.read_text() == "precious"
    assert cp.saved_pages == 1
    assert not page.is_symlink()
    assert stat.S_IMODE(page.stat().st_mode) == 0o600
    for path in (tmp_path / "state", tmp_path / "state" / "pages"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "state" / "manifest.json").stat().st_mode) == 0o600


def test_a_resumed_checkpoint_gets_its_private_modes_back(tmp_path: Path) -> None:
    """A state directory loosened between runs is 0700 again once resumed."""
    cp = make(tmp_path)
    cp.begin(IDENTITY)
    cp.save(2, {"data": []})
    os.chmod(tmp_path / "state", 0o755)
    os.chmod(tmp_path / "state" / "pages", 0o755)
    make(tmp_path).begin(IDENTITY)
    for path in (tmp_path / "state", tmp_path / "state" / "pages"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700


# -- item 4: credentials are part of the identity -----------------------------------------
@pytest.mark.parametrize(
    ("before", "after", "kept"),
    [
        (("TENANTA",), ("TENANTB",), False),  # ?key=TENANTA, then ?key=TENANTB
        (("sk-1",), ("sk-2",), False),  # --api-key changed
        (("sk-1",), (), False),  # the key removed
        (("sk-1", "TENANTA"), ("sk-1", "TENANTA"), True),
    ],
)
def test_other_credentials_discard_the_checkpoint_with_one_warning(
    tmp_path: Path, before: tuple[str, ...], after: tuple[str, ...], kept: bool
) -> None:
    """Another key or secret URL value never resumes; the warning names why, never the key."""
    first = make(tmp_path, credentials=before)
    first.begin(IDENTITY)
    first.save(2, {"data": [{"id": 1}]})
    events: list[Event] = []
    second = make(tmp_path, credentials=after, events=events)
    second.begin(IDENTITY)
    assert (second.load(2) is not None) is kept
    if not kept:
        (event,) = events
        assert event.name == "checkpoint_discarded"
        assert event.fields["reason"] == (
            "it was written with other credentials (API key or URL secrets)"
        )
    on_disk = b"".join(p.read_bytes() for p in (tmp_path / "state").rglob("*") if p.is_file())
    for secret in {*before, *after}:
        assert secret.encode() not in on_disk
        assert secret not in repr(events)


def test_the_credential_digest_is_salted_per_checkpoint(tmp_path: Path) -> None:
    """Two checkpoints of the same key store different salts and digests (an HMAC)."""
    digests = set()
    for name in ("a", "b"):
        cp = Checkpoint(tmp_path / name, max_age_seconds=60, clock=lambda: 0.0,
                        wall=lambda: T0, credentials=("sk-1",))
        cp.begin(IDENTITY)
        manifest = json.loads((tmp_path / name / "manifest.json").read_bytes())
        assert manifest["credentials"] == credentials_digest(manifest["salt"], ["sk-1"])
        digests.add(manifest["credentials"])
    assert len(digests) == 2


def test_the_pipeline_hands_the_url_secrets_and_the_key_to_the_checkpoint(tmp_path: Path) -> None:
    """A run with ?key=TENANTB after one with ?key=TENANTA fetches everything again."""
    api = in_process_api(customers=30)
    for tenant in ("TENANTA", "TENANTB"):
        settings = settings_for(tmp_path, api_url=f"http://api.test/api?key={tenant}",
                                per_page=6, concurrency=1)
        assert tenant in settings.secret_values()

        def die(event: Event) -> None:
            if event.name == "page_fetched" and event.fields["page"] == 4:
                raise RuntimeError("killed")

        with pytest.raises(RuntimeError):
            api.run(settings, hook=die)
    reasons = [e["reason"] for e in api.named("checkpoint_discarded")]
    assert reasons == ["it was written with other credentials (API key or URL secrets)"]
    assert api.named("resumed") == []


# -- item 5: huge integers stay exact -------------------------------------------------------
json_scalars = st.one_of(
    st.integers(min_value=-(2**200), max_value=2**200),
    st.sampled_from([2**63 - 1, 2**63, 2**64 - 1, 2**64, 2**70, -(2**63) - 1, -(2**70)]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1.0, -0.0, 1e300, 12345678901234567890.0]),
    st.text(max_size=5),
    st.booleans(),
    st.none(),
)
records = st.dictionaries(
    st.sampled_from(["id", "ltv", "orders", "email"]),
    st.one_of(json_scalars, st.lists(json_scalars, max_size=3)),
    min_size=1,
)


@settings(max_examples=80, derandomize=True, deadline=None)
@given(st.lists(records, min_size=1, max_size=4))
def test_huge_negative_and_float_looking_numbers_stay_exact_wherever_records_are_stored(
    tmp_path_factory: pytest.TempPathFactory, data: list[dict[str, Any]]
) -> None:
    """A body round-trips exactly through decoding, the checkpoint and the rejected file."""
    tmp = tmp_path_factory.mktemp("exact")
    raw = json.dumps({"page": 1, "data": data}).encode()
    expected = json.loads(raw)
    body = decode_body(raw, page=1)
    assert body == expected
    assert [type(v) for r in body["data"] for v in r.values()] == [
        type(v) for r in expected["data"] for v in r.values()
    ]
    cp = make(tmp)
    cp.begin(IDENTITY)
    cp.save(2, body)
    again = make(tmp)
    again.begin(IDENTITY)
    assert again.load(2) == expected
    result = ProcessResult(to_frame([]), [Rejection("invalid_id", r, i) for i, r in
                                          enumerate(body["data"])], [],
                           ProcessCounts(len(data), 0, 0, len(data)))
    out = tmp / "out.json"
    JsonFileSink(out).write(result, {"run_id": "x"})
    stored = [json.loads(line)["record"] for line in rejected_path(out).read_text().splitlines()]
    assert stored == expected["data"]
    assert jsoncodec.loads(jsoncodec.dumps_exact(body)) == expected


def test_a_70_bit_id_is_not_rounded_to_a_float() -> None:
    """orjson would read 2**70 as 1.1805916207174113e+21; the codec keeps the integer."""
    exact = jsoncodec.loads(b'{"id": 1180591620717411303425}')["id"]
    assert type(exact) is int
    assert exact == 2**70 + 1
    assert jsoncodec.dumps_line({"id": 2**70}) == b'{"id":1180591620717411303424}\n'


# -- item 6: write failures are visible, cleaned up, and never fail the sync ---------------
def test_a_full_disk_warns_once_removes_the_partial_checkpoint_and_goes_on(
    tmp_path: Path,
) -> None:
    """ENOSPC on the 4th page: one warning naming the reason; nothing is left on disk."""
    written: list[Path] = []

    def disk(path: Path, data: bytes) -> None:
        if len(written) >= 4:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        atomic.write_bytes(path, data, mode=0o600, durable=False)
        written.append(path)

    events: list[Event] = []
    cp = make(tmp_path, events=events, write_file=disk)
    cp.begin(IDENTITY)
    for page in range(1, 8):
        cp.save(page, {"data": [{"id": page}]})
    (failed,) = [e for e in events if e.name == "checkpoint_write_failed"]
    assert failed.fields["error"] == "No space left on device"
    assert failed.fields["removed"] is True
    assert not (tmp_path / "state").exists()
    stream = io.StringIO()
    log_hook(configure_logging("warning", "text", stream=stream))(failed)
    assert "warning checkpoint_write_failed" in stream.getvalue()
    assert "error=\"No space left on device\"" in stream.getvalue()


def test_a_manifest_created_in_the_future_is_invalid(tmp_path: Path) -> None:
    """A created_at two hours ahead of the clock discards the checkpoint, never trusts it."""
    ahead = make(tmp_path, now=T0 + timedelta(hours=2))
    ahead.begin(IDENTITY)
    ahead.save(2, {"data": []})
    events: list[Event] = []
    now = make(tmp_path, events=events)
    now.begin(IDENTITY)
    assert now.load(2) is None
    assert [e.fields["reason"] for e in events] == ["its created_at lies in the future"]
    assert logging.getLevelName(logging.WARNING) == "WARNING"
