"""What the docs promise about the destinations: the README's analyst queries run, and
docs/tables.md matches the table definitions and docs/output.schema.json."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from customer_sync.sink.tables import (
    CUSTOMER_TABLE_COLUMNS,
    DERIVED_VALUES,
    MIGRATIONS_DDL,
    RUNS_SCHEMA,
)

from ..support import ROOT, SCHEMA_PATH
from .destination_support import Target, canonical_row, customer, metadata, result_of

README = (ROOT / "README.md").read_text()
TABLES_DOC = (ROOT / "docs" / "tables.md").read_text()


def readme_queries() -> list[str]:
    section = README.split("## Analytics destinations", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sql\n(.*?)```", section, flags=re.DOTALL)


def test_readme_has_the_three_analyst_queries() -> None:
    """The README shows quality by segment, active customers by tier, deleted this week."""
    queries = readme_queries()
    assert len(queries) == 3
    assert "market_segment" in queries[0]
    assert "data_quality_band" in queries[0]
    assert "customer_tier" in queries[1]
    assert "'active'" in queries[1]
    assert "is_deleted" in queries[2]
    assert "7 days" in queries[2]


def test_readme_queries_run_and_answer(db_target: Target) -> None:
    """The README's queries run as written in DuckDB and PostgreSQL and give the answers."""
    now = datetime.now(UTC).replace(microsecond=0)
    first = result_of(
        [customer(1, market_segment="EU", data_quality_score=95, activity_status="active",
                  customer_tier="premium"),
         customer(2, market_segment="EU", data_quality_score=60, activity_status="inactive"),
         customer(3, market_segment="APAC", activity_status="active", customer_tier="premium")],
        [canonical_row(1, lifetime_value=100.25), canonical_row(2, data_quality_band="low"),
         canonical_row(3, lifetime_value=1)],
    )
    db_target.sink().write(first, metadata(now - timedelta(days=30)))
    second = result_of([customer(1, market_segment="EU", data_quality_score=95,
                                 activity_status="active", customer_tier="premium"),
                        customer(2, market_segment="EU", data_quality_score=60,
                                 activity_status="inactive")],
                       [canonical_row(1, lifetime_value=100.25),
                        canonical_row(2, data_quality_band="low")])
    db_target.sink().write(second, metadata(now - timedelta(hours=1)))
    quality, tiers, deleted = (db_target.sql(q) for q in readme_queries())
    assert [tuple(row[:3]) for row in quality] == [("EU", "high", 1), ("EU", "low", 1)]
    assert [(row[0], row[1], float(row[2])) for row in tiers] == [("premium", 1, 100.25)]
    assert [(row[0], row[2]) for row in deleted] == [(3, "c3@example.com")]


def _documented(table: str) -> list[str]:
    section = TABLES_DOC.split(f"## `{table}`", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([a-z_0-9]+)` \|", section, flags=re.MULTILINE)


@pytest.mark.parametrize(
    ("table", "columns"),
    [
        ("customers", list(CUSTOMER_TABLE_COLUMNS)),
        ("rejected_records", ["run_id", "position", "reason", "record"]),
        ("customer_lineage", ["run_id", "survivor_id", "merged_id", "match_rule", "position"]),
        ("sync_runs", list(RUNS_SCHEMA)),
        ("schema_migrations", re.findall(r"^\s+([a-z_]+)\s", MIGRATIONS_DDL, re.MULTILINE)),
    ],
)
def test_tables_doc_lists_every_column_in_order(table: str, columns: list[str]) -> None:
    """docs/tables.md documents every column of every table, in table order."""
    assert _documented(table) == columns


def test_tables_match_the_output_schema() -> None:
    """The customers table starts with the output's nine fields, and its CHECK values are
    the output schema's enums, which docs/tables.md lists too."""
    schema = json.loads(SCHEMA_PATH.read_text())["$defs"]["customer"]
    assert list(CUSTOMER_TABLE_COLUMNS[:9]) == schema["required"]
    for field, values in DERIVED_VALUES.items():
        if field in schema["properties"]:
            assert list(values) == schema["properties"][field]["enum"], field
        row = next(line for line in TABLES_DOC.splitlines() if line.startswith(f"| `{field}` |"))
        assert ", ".join(f"`{v}`" for v in values) in row, field
