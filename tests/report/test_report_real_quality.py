"""The report and the warning on the transform's real quality figures (issue #15)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from customer_sync.exporter import DataExporter

from ..support import validate_output
from .support import demo_run, reqres_run


@pytest.fixture(scope="module")
def reqres(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, Any], str]:
    """The 12 real reqres users (five fields each) through the whole pipeline."""
    tmp = tmp_path_factory.mktemp("reqres")
    report = reqres_run(tmp)
    metadata = validate_output(tmp / "sample_output.json")["metadata"]
    assert report.report_path is not None
    return report, metadata, report.report_path.read_text(encoding="utf-8")


def test_reqres_metadata_says_which_fields_the_source_lacks(reqres: Any) -> None:
    """Coverage 0 for every extension field; the issue's example is among the warnings."""
    _, metadata, _ = reqres
    coverage = metadata["source_field_coverage"]
    assert {k for k, v in coverage.items() if v == 1.0} == {
        "id", "email", "first_name", "last_name"}
    messages = [w["message"] for w in metadata["source_field_warnings"]]
    assert (
        "the source sent no sessions_30d or orders_count in 100% of records: "
        "engagement_level is unknown for all 12 customers"
    ) in messages
    details = metadata["data_quality_details"]
    assert details["distributions"]["engagement_level"]["unknown"] == 12
    assert details["fields"]["sessions_30d"] == {"present": 0, "missing": 12, "invalid": 0}


def test_reqres_report_shows_the_warnings_and_the_json_s_field_counts(reqres: Any) -> None:
    """Every warning is on the page, and every field row equals the JSON's counts."""
    _, metadata, page = reqres
    for warning in metadata["source_field_warnings"]:
        assert warning["message"] in page
    for name, counts in metadata["data_quality_details"]["fields"].items():
        assert (
            f'<td>{name}</td><td class="num">{counts["present"]:,}</td>'
            f'<td class="num">{counts["missing"]:,}</td>'
            f'<td class="num">{counts["invalid"]:,}</td>'
        ) in page


def test_exporter_summary_carries_the_same_quality_details(tmp_path: Path) -> None:
    """generate_summary_report of a run's result has the metadata's quality keys."""
    report = demo_run(tmp_path)
    metadata = json.loads((tmp_path / "sample_output.json").read_text())["metadata"]
    summary = DataExporter().generate_summary_report(report.result)
    assert summary["data_quality_details"] == metadata["data_quality_details"]
    assert summary["source_field_coverage"] == metadata["source_field_coverage"]
    assert summary["market_segment_by_customer_tier"] == (
        metadata["summary"]["market_segment_by_customer_tier"])
    assert metadata["source_field_warnings"] == []  # the demo source sends every field
    reasons = metadata["data_quality_details"]["rejection_reasons"]
    page = report.report_path.read_text() if report.report_path else ""
    for reason, count in reasons.items():
        assert f'<td>{reason}</td><td class="num">{count:,}</td>' in page
    assert "***@reqres.in" in page  # the rejected record's example, masked
