"""Bad input (issue #6): whatever the API sends, the run either handles it or fails with
one clear line; it never crashes with a traceback and never finishes silently short.

* Hypothesis feeds the client arbitrary JSON bodies (any types in any field, non-JSON
  bytes too) through ``httpx.MockTransport``, then the processor, the checkpoint and the
  sink. Only the documented errors may be raised, and every record received lands in
  exactly one of exported, merged, rejected. (The processor's own fuzzing of record fields
  is in ``tests/test_data_processor.py``.)
* The page-level cases go through the real CLI, in process, against a small scripted API
  on loopback.
"""

from __future__ import annotations

import asyncio
import json
import math
import tempfile
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from customer_sync.checkpoint import Checkpoint
from customer_sync.errors import SourceError
from customer_sync.sink.json_file import JsonFileSink, lineage_path, rejected_path
from customer_sync.source.page_store import StoreIdentity
from customer_sync.transform import CustomerDataProcessor

from ..chaos_support import (
    AS_OF_TEXT,
    NOW,
    LoopbackApp,
    Recorder,
    cli_in_process,
    page_body,
    people,
    read_jsonl,
)
from ..support import make_client, read_strict

# -- hypothesis: arbitrary JSON bodies ----------------------------------------------------
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)
FIELDS = ["id", "email", "first_name", "last_name", "country", "region", "sessions_30d",
          "orders_count", "lifetime_value", "plan", "signup_source", "last_login_at",
          "created_at", "updated_at"]
records = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6) | json_values
envelopes = st.fixed_dictionaries(
    {"data": st.lists(records, max_size=6)},
    optional={
        "per_page": json_values,
        "total": st.integers(-2, 12) | json_values,
        "total_pages": st.integers(-2, 4) | json_values,
        "support": json_values,
    },
)
# Mostly envelope-shaped (so most examples reach the processor), some anything at all.
_odd_bodies = st.one_of(
    envelopes.map(lambda b: json.dumps({**b, "data": b.get("support")}).encode()),
    json_values.map(lambda b: json.dumps(b).encode()),
    st.binary(max_size=40),
)
bodies = st.integers(0, 9).flatmap(
    lambda roll: _odd_bodies if roll == 0 else envelopes.map(lambda b: json.dumps(b).encode())
)


def canonical(value: Any) -> str:
    """Equality that treats NaN as equal to itself (``json.dumps`` writes it as ``NaN``)."""
    return json.dumps(value, sort_keys=True)


def serve(pages: list[bytes]) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params["page"])
        content = pages[number - 1] if number <= len(pages) else b'{"data": []}'
        return httpx.Response(200, content=content)

    return handler


async def no_wait(_seconds: float) -> None:
    await asyncio.sleep(0)


@settings(max_examples=120)
@given(pages=st.lists(bodies, min_size=1, max_size=3))
def test_any_body_is_handled_or_refused_and_every_record_is_accounted_for(
    pages: list[bytes],
) -> None:
    """Arbitrary bodies: a documented error, or every record exported, merged or rejected."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        store = Checkpoint(root / "state", max_age_seconds=60, clock=lambda: 0.0,
                           wall=lambda: NOW)
        client = make_client(
            "http://api.test/api",
            transport=httpx.MockTransport(serve(pages)),
            sleep=no_wait,
            max_retries=1,
            max_pages=8,
            max_drift_passes=1,
            page_store=store,
        )
        refused: SourceError | None = None
        try:
            received = client.fetch_all_customers()
        except SourceError as exc:
            refused = exc
        if refused is not None:
            assert "\n" not in str(refused)
            event(f"refused: {type(refused).__name__}")
            return
        event("synced")
        assert len(received) == client.stats.records

        again = Checkpoint(root / "state", max_age_seconds=60, clock=lambda: 0.0,
                           wall=lambda: NOW)
        again.begin(StoreIdentity("http://api.test/api", 6, client.stats.reported_total))
        for number in range(1, client.stats.pages + 1):
            saved = again.load(number)
            if saved is not None and number <= len(pages):
                assert canonical(saved) == canonical(json.loads(pages[number - 1]))

        processor = CustomerDataProcessor(as_of=NOW)
        processor.add_batch(received)
        result = processor.finish()
        counts = result.counts
        assert counts.records_in == len(received)
        assert counts.exported + counts.duplicates_merged + counts.rejected == len(received)
        assert len(result.rejected) == counts.rejected
        assert len(result.merges) == counts.duplicates_merged

        out = root / "out.json"
        JsonFileSink(out).write(result, {"total_customers": counts.exported})
        document = read_strict(out)
        ids = Counter(c["customer_id"] for c in document["customers"])
        assert len(ids) == sum(ids.values()) == counts.exported
        for side in (rejected_path(out), lineage_path(out)):
            read_jsonl(side)


@pytest.mark.parametrize(
    "body",
    [
        b'{"data": [{"id": 1, "x": ' + b"[" * 5000 + b"]" * 5000 + b"}]}",
        b'{"data": [{"id": 1, "x": ' + b"[" * 400 + b"]" * 400 + b"}]}",
        b'{"data": [{"id": null, "x": ' + b"[" * 900 + b"]" * 900 + b"}]}",
        b'{"total": 123456789012345678901234567890, "data": [{"id": 1}]}',
        b'{"data": [{"id": 1, "first_name": "\\udc00"}, {"id": "\\ud800"}]}',
    ],
    ids=["too_deep", "deep", "deep_rejected", "huge_total", "lone_surrogates"],
)
def test_pathological_json_never_crashes_the_client_checkpoint_or_sink(
    body: bytes, tmp_path: Path
) -> None:
    """Deep nesting, huge numbers and lone surrogates: handled, or one documented error."""
    store = Checkpoint(tmp_path / "state", max_age_seconds=60, clock=lambda: 0.0,
                       wall=lambda: datetime.now(UTC))
    client = make_client(
        "http://api.test/api", transport=httpx.MockTransport(serve([body])), sleep=no_wait,
        max_retries=0, page_store=store, max_drift_passes=1,
    )
    refused: SourceError | None = None
    try:
        received = client.fetch_all_customers()
    except SourceError as exc:
        refused = exc
    if refused is not None:
        assert str(refused).startswith("page 1: ")
        return
    processor = CustomerDataProcessor(as_of=NOW)
    processor.add_batch(received)
    result = processor.finish()
    assert result.counts.balanced
    JsonFileSink(tmp_path / "out.json").write(result, {})
    read_strict(tmp_path / "out.json")
    assert store.saved_pages >= 1


# -- page-level cases through the CLI -------------------------------------------------------
ROWS = people(18)  # three pages of six
Tweak = Callable[[int, dict[str, Any], int], bytes | None]


def scripted(tweak: Tweak) -> Recorder:
    """A reqres-shaped API over ROWS; ``tweak(page, body, attempt)`` may replace a body."""
    attempts: Counter[int] = Counter()

    def respond(request: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        page = int(request["params"].get("page", "1"))
        attempts[page] += 1
        body = json.loads(page_body(page, ROWS, 6))
        changed = tweak(page, body, attempts[page])
        content = changed if changed is not None else json.dumps(body).encode()
        return 200, {"content-type": "application/json"}, content

    return Recorder(respond)


def on_page(number: int, change: Callable[[dict[str, Any]], Any]) -> Tweak:
    def tweak(page: int, body: dict[str, Any], attempt: int) -> bytes | None:
        if page != number:
            return None
        result = change(body)
        return result if isinstance(result, bytes) else json.dumps(result).encode()

    return tweak


def everywhere(change: Callable[[dict[str, Any]], dict[str, Any]]) -> Tweak:
    return lambda page, body, attempt: json.dumps(change(body)).encode()


def without(key: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda body: {k: v for k, v in body.items() if k != key}


def setting(key: str, value: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda body: {**body, key: value}


HANDLED: dict[str, Tweak] = {
    "total_pages missing": everywhere(without("total_pages")),
    "total_pages negative": everywhere(setting("total_pages", -1)),
    "total_pages a string": everywhere(setting("total_pages", "3")),
    "total_pages zero beside records": everywhere(setting("total_pages", 0)),
    "total missing too": everywhere(lambda b: without("total")(without("total_pages")(b))),
    "page missing": everywhere(without("page")),
    "page as a digit string": everywhere(lambda b: {**b, "page": str(b["page"])}),
    "non-JSON 200 once": lambda page, body, attempt: b"<html>busy</html>"
    if page == 2 and attempt == 1 else None,
    "data not a list once": lambda page, body, attempt: json.dumps({**body, "data": {}}).encode()
    if page == 3 and attempt == 1 else None,
}

REFUSED: dict[str, tuple[Tweak, str]] = {
    "data not a list": (
        on_page(2, setting("data", {"id": 7})),
        "error: page 2: giving up after 4 attempts (invalid_body x4)",
    ),
    "data missing": (
        on_page(2, without("data")),
        "error: page 2: giving up after 4 attempts (invalid_body x4)",
    ),
    "body not an object": (
        on_page(3, lambda body: body["data"]),
        "error: page 3: giving up after 4 attempts (invalid_body x4)",
    ),
    "non-JSON 200": (
        on_page(2, lambda body: b"<html><h1>Maintenance</h1></html>"),
        "error: page 2: giving up after 4 attempts (invalid_json x4)",
    ),
    "empty 200": (
        on_page(3, lambda body: b""),
        "error: page 3: giving up after 4 attempts (invalid_json x4)",
    ),
    "another page echoed": (
        on_page(2, setting("page", 1)),
        "error: page 2: the API answered for page 1 (the server ignored or rewrote the page "
        "parameter)",
    ),
    "total_pages absurd": (
        everywhere(setting("total_pages", 10**9)),
        "error: the API has more than max_pages=100000 pages (needs page 1000000000) (raise "
        "max_pages if that many pages are expected)",
    ),
    "total_pages too small": (
        everywhere(setting("total_pages", 1)),
        "error: sync incomplete: received 6 records but the API reports total=18, on two "
        "passes that agree (the API's total does not match its pages)",
    ),
}


def run_against(api: Recorder, tmp_path: Path) -> Any:
    with LoopbackApp(api) as server:
        return cli_in_process(
            "--api-url", server.url + "/api", "--output", str(tmp_path / "out.json"),
            "--as-of", AS_OF_TEXT, "--backoff-base", "0", "--no-progress",
            "--no-report",  # about the pages, not the report (which costs ~1 s a run)
        )


@pytest.mark.parametrize("case", sorted(HANDLED))
def test_page_level_oddities_that_can_be_handled_are(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Missing or odd paging fields, or a bad body once: the sync completes with all 18."""
    monkeypatch.chdir(tmp_path)
    run = run_against(scripted(HANDLED[case]), tmp_path)
    assert run.code == 0, run.stderr
    assert "Traceback" not in run.stderr
    document = read_strict(tmp_path / "out.json")
    assert sorted(c["customer_id"] for c in document["customers"]) == list(range(1, 19))


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_page_level_garbage_fails_the_run_with_one_line_naming_the_cause(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A body that stays wrong fails the run: exit 1, one line, no traceback, no output."""
    monkeypatch.chdir(tmp_path)
    tweak, line = REFUSED[case]
    run = run_against(scripted(tweak), tmp_path)
    assert run.code == 1
    assert run.last_line == line
    assert [ln for ln in run.stderr.splitlines() if ln.startswith("error")] == [line]
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "out.json").exists()


def test_a_nan_total_pages_is_treated_as_missing() -> None:
    """total_pages: NaN (not even strict JSON) counts as missing: paging goes on until empty."""
    pages = [
        page_body(n, ROWS, 6).replace(b'"total_pages": 3', b'"total_pages": NaN')
        for n in range(1, 5)
    ]
    client = make_client("http://api.test/api", transport=httpx.MockTransport(serve(pages)))
    assert len(client.fetch_all_customers()) == 18
    assert client.stats.pages == 4  # the fourth, empty, page ends the walk
    assert math.isnan(json.loads(pages[0])["total_pages"])
