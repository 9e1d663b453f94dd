"""The exporter and the JSON file sink: format, order, atomicity, side files."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from customer_sync.atomic import atomic_writer, sweep_stale_temps
from customer_sync.errors import SinkError
from customer_sync.exporter import DataExporter, lineage_path, rejected_path
from customer_sync.models import Merge, ProcessCounts, ProcessResult, Rejection
from customer_sync.sink.summary import quality_band, to_frame

from ..support import read_strict, sample_customer, validate_output

FIXED = datetime(2026, 11, 26, 18, 41, 19, 123456, tzinfo=UTC)


def exporter() -> DataExporter:
    return DataExporter(now=lambda: FIXED)


def result_of(customers: list[dict[str, object]]) -> ProcessResult:
    n = len(customers)
    return ProcessResult(
        frame=to_frame(customers),
        rejected=[Rejection("missing_id", {"email": "a@b.co", "x": float("nan")}, 7)],
        merges=[Merge(survivor_id=1, merged_id=1, reason="same_id", position=3)],
        counts=ProcessCounts(records_in=n + 2, exported=n, duplicates_merged=1, rejected=1),
    )


def test_output_keeps_the_users_keys_and_validates(tmp_path: Path) -> None:
    """The file has metadata (the three user keys first) and customers, valid per the schema."""
    out = tmp_path / "sample_output.json"
    exporter().export_customers([sample_customer()], out, metadata={"extra": 1})
    doc = validate_output(out)
    assert list(doc["metadata"])[:3] == [
        "total_customers",
        "export_timestamp",
        "data_quality_summary",
    ]
    assert doc["metadata"]["export_timestamp"] == "2026-11-26T18:41:19Z"
    assert doc["metadata"]["extra"] == 1
    assert doc["customers"] == [sample_customer()]
    assert list(doc["customers"][0]) == list(sample_customer())


def test_customers_are_sorted_by_full_name_then_id(tmp_path: Path) -> None:
    """Customers come out sorted by full_name ascending, then customer_id."""
    rows = [
        sample_customer(customer_id=3, full_name="Zed"),
        sample_customer(customer_id=9, full_name="Amy"),
        sample_customer(customer_id=2, full_name="Amy"),
    ]
    out = tmp_path / "o.json"
    exporter().export_customers(rows, out)
    ids = [c["customer_id"] for c in read_strict(out)["customers"]]
    assert ids == [2, 9, 3]


@pytest.mark.parametrize(
    ("score", "band"),
    [(100, "high_quality"), (90, "high_quality"), (89, "medium_quality"),
     (70, "medium_quality"), (69, "low_quality"), (0, "low_quality")],
)
def test_quality_bands(score: int, band: str) -> None:
    """Bands: high >= 90, medium 70-89, low < 70."""
    assert quality_band(score) == band


def test_summary_report_counts_every_breakdown() -> None:
    """generate_summary_report gives bands and counts per business field."""
    rows = [sample_customer(), sample_customer(customer_id=2, customer_tier="basic",
                                               data_quality_score=60)]
    report = exporter().generate_summary_report(rows)
    assert report["data_quality_summary"] == {
        "high_quality": 1, "medium_quality": 0, "low_quality": 1
    }
    assert report["customer_tier"] == {"basic": 1, "premium": 1}
    assert report["engagement_level"] == {"high": 2}
    assert set(report) >= {"activity_status", "acquisition_channel", "market_segment"}


def test_side_files_hold_rejections_and_lineage_privately(tmp_path: Path) -> None:
    """Rejected records and lineage go to JSONL side files with mode 0600; NaN becomes null."""
    out = tmp_path / "sample_output.json"
    report = exporter().export_customers(result_of([sample_customer()]), out)
    rej, lin = rejected_path(out), lineage_path(out)
    assert rej.name == "sample_output.rejected.jsonl"
    assert lin.name == "sample_output.lineage.jsonl"
    assert report.side_files == {"rejected": str(rej), "lineage": str(lin)}
    for path in (rej, lin):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    run_id = read_strict(out)["metadata"]["run_id"]
    assert rej.read_text() == (
        f'{{"run_id":"{run_id}","position":7,"reason":"missing_id",'
        '"record":{"email":"a@b.co","x":null}}\n'
    )
    assert lin.read_text() == (
        f'{{"run_id":"{run_id}","survivor_id":1,"merged_id":1,"reason":"same_id","position":3}}\n'
    )


def test_empty_export_is_valid(tmp_path: Path) -> None:
    """No customers still gives a valid document with an empty list."""
    out = tmp_path / "o.json"
    exporter().export_customers([], out)
    doc = validate_output(out)
    assert doc["customers"] == []
    assert doc["metadata"]["total_customers"] == 0


def test_chunked_writing_matches_one_chunk(tmp_path: Path) -> None:
    """Writing in many small chunks gives the same document as one chunk."""
    from customer_sync.sink.json_file import JsonFileSink

    rows = [sample_customer(customer_id=i, full_name=f"N{i:03d}") for i in range(1, 40)]
    res = result_of(rows)
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    JsonFileSink(a, chunk_rows=7).write(res, {"k": 1, "run_id": "r1"})
    JsonFileSink(b, chunk_rows=1000).write(res, {"k": 1, "run_id": "r1"})
    assert a.read_bytes() == b.read_bytes().replace(b'"b.', b'"a.')
    assert len(read_strict(a)["customers"]) == 39


def test_failed_write_leaves_previous_output_intact(tmp_path: Path) -> None:
    """A failure while writing keeps the old file byte for byte and leaves no temp file."""
    out = tmp_path / "o.json"
    exporter().export_customers([sample_customer()], out)
    before = out.read_bytes()

    class Boom(Exception):
        pass

    def write_then_fail() -> None:
        with atomic_writer(out) as fh:
            fh.write(b"{partial")
            raise Boom

    with pytest.raises(Boom):
        write_then_fail()
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_missing_directory_fails_before_writing(tmp_path: Path) -> None:
    """An output directory that does not exist is a SinkError naming it."""
    with pytest.raises(SinkError, match="does not exist"):
        exporter().export_customers([sample_customer()], tmp_path / "nope" / "o.json")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_directory_fails(tmp_path: Path) -> None:
    """A read-only output directory is a SinkError saying so."""
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    with pytest.raises(SinkError, match="not writable"):
        exporter().export_customers([sample_customer()], ro / "o.json")


def test_stale_temp_files_are_swept(tmp_path: Path) -> None:
    """Temp files left by a dead process are removed; a live process's are kept."""
    out = tmp_path / "o.json"
    dead = tmp_path / ".o.json.999999999.tmp"
    live = tmp_path / f".o.json.{os.getppid()}.tmp"
    dead.write_text("x")
    live.write_text("y")
    removed = sweep_stale_temps(out)
    assert removed == [dead]
    assert live.exists()


@given(
    names=st.lists(st.text(), min_size=1, max_size=20),
    ids=st.lists(st.integers(min_value=1, max_value=2**62), min_size=1, max_size=20),
)
def test_fast_row_encoding_matches_orjson(names: list[str], ids: list[int]) -> None:
    """Rows encoded by Polars are byte-identical to orjson's, whatever the strings hold."""
    from customer_sync.sink.json_file import _ROW_SEP, _rows

    rows = [
        sample_customer(customer_id=i, full_name=n, email_domain=n[::-1])
        for i, n in zip(ids, names, strict=False)
    ]
    frame = to_frame(rows)
    assert _rows(frame) == _ROW_SEP.join(map(orjson.dumps, rows))
