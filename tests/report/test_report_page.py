"""The HTML report: self-contained, masked, and in step with the JSON metadata (issue #15)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from customer_sync.models import Rejection
from customer_sync.report import mask_emails, rejection_examples, render_report, write_report

from .support import demo_run, hand_built_quality, metrics


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str, Path]:
    """One demo run on fake time: its JSON metadata and the report page it wrote."""
    tmp = tmp_path_factory.mktemp("demo")
    report = demo_run(tmp)
    assert report.report_path == tmp / "sample_output.report.html"
    metadata = json.loads((tmp / "sample_output.json").read_text())["metadata"]
    return metadata, report.report_path.read_text(encoding="utf-8"), tmp


def test_default_report_sits_next_to_the_output(demo: Any) -> None:
    """With no --report, the page is <output stem>.report.html beside the JSON file."""
    _, page, tmp = demo
    assert (tmp / "sample_output.report.html").is_file()
    assert page.startswith("<!DOCTYPE html>")


def test_headline_numbers_equal_the_json_metadata(demo: Any) -> None:
    """Records, bands and fetch counters on the page are the JSON file's numbers."""
    metadata, page, _ = demo
    shown = {k: int(v.replace(",", "")) for k, v in metrics(page).items()
             if k not in ("source", "duration", "waited")}
    accounting, stats = metadata["accounting"], metadata["run_stats"]
    assert shown == {
        "records_in": accounting["records_in"],
        "exported": accounting["exported"],
        "duplicates_merged": accounting["duplicates_merged"],
        "rejected": accounting["rejected"],
        **metadata["data_quality_summary"],
        "pages": stats["pages"],
        "requests": stats["requests"],
        "retries": stats["retries_total"],
        "rate_limited": stats["rate_limited"],
    }
    assert metrics(page)["source"] == metadata["source"]["url"]
    assert f'{accounting["records_in"]} in = {accounting["exported"]} exported' in page


def test_page_is_self_contained_and_offline(demo: Any) -> None:
    """No script, stylesheet link, external image, font or URL to fetch: it opens offline."""
    _, page, _ = demo
    assert "<script" not in page
    assert "<link" not in page
    assert "@import" not in page
    assert not re.search(r"url\((?!#)", page)  # only references inside the page
    assert not re.search(r"""(?:src|href)\s*=\s*["'](?!#)""", page)
    assert "<svg" in page
    assert "default-src 'none'" in page  # the page forbids itself any fetch


def test_every_section_is_there(demo: Any) -> None:
    """Records, quality, fields, coverage, derived fields, fetch and rejections."""
    _, page, _ = demo
    for section in ("quality", "fields", "coverage", "derived", "fetch", "rejections"):
        assert f'id="{section}"' in page
    for title in ("Market segment by customer tier", "Engagement by acquisition channel",
                  "Activity status", "Pages received over time", "Retries by cause"):
        assert title in page


def test_rendering_is_deterministic(demo: Any) -> None:
    """The same metadata gives the same page, byte for byte."""
    metadata, _, _ = demo
    assert render_report(metadata) == render_report(metadata)


def test_quality_details_render_with_their_numbers(demo: Any) -> None:
    """Per-field counts, histogram, coverage and rejection reasons from the metadata."""
    metadata, _, _ = demo
    full = hand_built_quality(metadata)
    page = render_report(full, {"missing_id": '{"id": null}'})
    for name, counts in full["data_quality_details"]["fields"].items():
        assert (
            f'<td>{name}</td><td class="num">{counts["present"]:,}</td>'
            f'<td class="num">{counts["missing"]:,}</td>'
            f'<td class="num">{counts["invalid"]:,}</td>'
        ) in page
    assert "Data-quality score" in page
    assert "Source field coverage" in page
    assert '<td>missing_id</td><td class="num">1</td>' in page


def test_missing_field_warning_is_shown_prominently(demo: Any) -> None:
    """A missing-field warning is an alert at the top of the page and in the coverage."""
    metadata, _, _ = demo
    message = ("the source sent no sessions_30d or orders_count in 100% of records: "
               "engagement_level is unknown for all 12 customers")
    full = {**hand_built_quality(metadata),
            "source_field_warnings": [{"fields": ["sessions_30d", "orders_count"],
                                       "message": message}]}
    page = render_report(full)
    assert page.count(message) == 2
    assert page.index('role="alert"') < page.index('id="quality"')


def test_rejection_examples_mask_the_email_local_part() -> None:
    """An example shows the record with every email's local part masked."""
    record = {"id": None, "email": "ghost.user@reqres.in", "note": "cc: a.b+c@example.org"}
    examples = rejection_examples([Rejection("missing_id", record, 3)])
    assert "ghost.user" not in examples["missing_id"]
    assert "***@reqres.in" in examples["missing_id"]
    assert "***@example.org" in examples["missing_id"]
    assert mask_emails("x janet.weaver@reqres.in y") == "x ***@reqres.in y"


def test_a_long_example_is_cut_after_masking() -> None:
    """A long record is cut short, and never shows half an email's local part."""
    record = {"filler": "x" * 230, "email": "janet.weaver@reqres.in"}
    [text] = rejection_examples([Rejection("missing_id", record, 0)]).values()
    assert len(text) <= 240
    assert "janet" not in text


def test_the_demo_report_masks_the_rejected_record(demo: Any) -> None:
    """The demo's rejected record (id null) is shown with its email masked."""
    metadata, _, tmp = demo
    rejected = [json.loads(line) for line in
                (tmp / "sample_output.rejected.jsonl").read_text().splitlines()]
    full = hand_built_quality(metadata)
    page = render_report(full, rejection_examples(
        Rejection(r["reason"], r["record"], r["position"]) for r in rejected))
    assert "ghost.user@" not in page
    assert "***@reqres.in" in page


def test_write_report_replaces_the_file_atomically(tmp_path: Path) -> None:
    """The report is written whole; no temp file is left behind."""
    target = tmp_path / "r.html"
    target.write_text("old")
    size = write_report(target, {"total_customers": 0})
    assert target.stat().st_size == size
    assert target.read_text().startswith("<!DOCTYPE html>")
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]


def test_output_with_the_new_keys_matches_the_schema(demo: Any) -> None:
    """The JSON file, page timeline and quality keys included, validates against the schema."""
    from ..support import validate_output

    _, _, tmp = demo
    metadata = validate_output(tmp / "sample_output.json")["metadata"]
    assert metadata["run_stats"]["page_timeline"][-1][1] == metadata["run_stats"]["pages"]


def test_exporter_summary_carries_the_cross_tabs_the_report_draws(demo: Any) -> None:
    """generate_summary_report has segment x tier and engagement x channel, adding up."""
    from customer_sync.exporter import DataExporter
    from customer_sync.sink.summary import to_frame

    from ..support import sample_customer

    rows = [sample_customer(customer_id=i, market_segment=s, customer_tier=t)
            for i, (s, t) in enumerate([("EU", "basic"), ("EU", "basic"), ("APAC", "premium")], 1)]
    summary = DataExporter().generate_summary_report(to_frame(rows))
    assert summary["market_segment_by_customer_tier"] == {
        "APAC": {"premium": 1}, "EU": {"basic": 2}}
    metadata, _, _ = demo
    table = metadata["summary"]["engagement_level_by_acquisition_channel"]
    assert sum(n for row in table.values() for n in row.values()) == metadata["total_customers"]


def test_report_is_one_file_of_the_output_set(demo: Any) -> None:
    """The main file announces the report; the set checks out; the page names the run id."""
    from customer_sync.sink.output_set import check_output_set

    metadata, page, tmp = demo
    assert metadata["output_files"]["report"] == {
        "file": "sample_output.report.html", "rows": None}
    assert check_output_set(tmp / "sample_output.json") == []
    assert f'<meta name="run-id" content="{metadata["run_id"]}">' in page
