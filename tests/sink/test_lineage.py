"""Lineage rows that read clearly (issue 12, item 9): both raw records by a stable
reference (page, index, pass) and the reason, transitive links named ``via``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from customer_sync.lineage import RecordRefs
from customer_sync.sink.json_file import lineage_path
from customer_sync.transform import CustomerDataProcessor

from ..chaos_support import NOW, in_process_api, settings_for


def raw(id_: object, email: str) -> dict[str, Any]:
    """A raw API record; only the id and the email differ between these."""
    return {"id": id_, "email": email, "first_name": "Ann", "last_name": "Lee",
            "signup_source": "web", "plan": "pro", "last_login": "2026-11-20T10:00:00Z"}


def lineage_of(pages: list[tuple[int, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    refs, processor = RecordRefs(), CustomerDataProcessor(as_of=NOW)
    for number, records in pages:
        refs.add_page(number, records)
        processor.add_batch(records)
    return [dict(row) for row in refs.explain(processor.finish().merges)]


def test_a_merge_names_both_raw_records_and_the_reason() -> None:
    """Two records with id 3 on pages 1 and 2: which one survived, which was merged, why."""
    rows = lineage_of([(1, [raw(3, "a@x.co"), raw(4, "b@x.co")]), (2, [raw(5, "c@x.co"),
                                                                         raw(3, "d@x.co")])])
    assert rows == [{
        "survivor_id": 3, "merged_id": 3,
        "survivor": {"page": 1, "index": 0, "pass": 1},
        "merged": {"page": 2, "index": 1, "pass": 1},
        "reason": "same_id", "position": 3,
    }]


def test_a_transitive_merge_says_via_which_record() -> None:
    """7 and 8 share an email; another 8 has its own email: merged into 7 via the first 8."""
    rows = lineage_of([(1, [raw(7, "s@x.co"), raw(8, "s@x.co")]), (2, [raw(8, "t@x.co")])])
    by_position = {row["position"]: row for row in rows}
    assert by_position[1]["reason"] == "same_email"
    assert by_position[2]["reason"] == "transitive"
    assert by_position[2]["via"] == [{"page": 1, "index": 1, "pass": 1}]
    assert by_position[2]["survivor"] == {"page": 1, "index": 0, "pass": 1}


def test_a_recheck_pass_is_part_of_the_reference() -> None:
    """A page fetched again by a drift re-check gives references with pass 2."""
    page = [raw(1, "a@x.co"), raw(2, "b@x.co")]
    rows = lineage_of([(1, page), (1, page)])
    assert [row["merged"] for row in rows] == [
        {"page": 1, "index": 0, "pass": 2}, {"page": 1, "index": 1, "pass": 2}
    ]
    assert {row["reason"] for row in rows} == {"same_id"}


def test_the_pipeline_writes_the_references_into_the_lineage_file(tmp_path: Path) -> None:
    """A whole run's lineage file carries survivor and merged references for every row."""
    api = in_process_api()  # the 12-user demo data set holds duplicates
    api.run(settings_for(tmp_path, per_page=4))
    rows = [json.loads(line) for line in
            lineage_path(tmp_path / "sample_output.json").read_text().splitlines()]
    assert rows
    for row in rows:
        assert set(row["merged"]) == {"page", "index", "pass"}
        assert row["survivor"] is not None
        assert row["reason"] in ("same_id", "same_email", "transitive")
