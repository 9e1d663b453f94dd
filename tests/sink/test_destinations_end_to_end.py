"""Whole runs into every destination at once: the same customers everywhere, one run id,
and a refused password that never shows."""

from __future__ import annotations

import io
import json
from pathlib import Path

import duckdb
import polars as pl
import pytest

from customer_sync.cli import main
from customer_sync.config import Settings, load_settings
from customer_sync.models import CUSTOMER_FIELDS
from customer_sync.pipeline import run_pipeline

from ..chaos_support import AS_OF_TEXT, BASE, NOW, FakeTime, in_process_api, settings_for
from ..postgres_server import PASSWORD
from .destination_support import PostgresTarget


@pytest.mark.slow
def test_one_run_writes_the_same_customers_to_every_destination(
    tmp_path: Path, pg_database: str
) -> None:
    """JSON, DuckDB, Parquet and PostgreSQL get the same customers and the same run id;
    a second run with fewer customers soft-deletes the missing ones everywhere."""
    destinations = [
        f"json:{tmp_path / 'out.json'}",
        f"duckdb:{tmp_path / 'c.duckdb'}",
        f"parquet:{tmp_path / 'lake'}",
        f"{pg_database}?schema=analytics",
    ]
    postgres = PostgresTarget(pg_database, "analytics")
    for customers, step in ((40, 0), (30, 1)):
        api = in_process_api(customers=customers, fault_rate=0.0)
        fake = FakeTime()
        report = run_pipeline(
            settings_for(
                tmp_path, per_page=10, destination=destinations, output=tmp_path / "out.json",
                sync_mode="full",  # deletions show on a full sync
            ),
            now=lambda step=step: NOW.replace(minute=step),  # type: ignore[misc]
            clock=fake.monotonic, transport=api.transport(), sleep=fake.sleep,
            wall_clock=fake.wall,
        )
        assert [s.target for s in report.sinks][1:3] == destinations[1:3]
        assert PASSWORD not in report.sinks[3].target
    document = json.loads((tmp_path / "out.json").read_text())
    exported = pl.DataFrame(document["customers"]).sort("customer_id")
    run_id = document["metadata"]["run_id"]
    with duckdb.connect(str(tmp_path / "c.duckdb"), read_only=True) as con:
        in_duckdb = con.sql("SELECT * FROM customers").pl()
        duck_runs = con.sql("SELECT run_id FROM sync_runs ORDER BY started_at").pl()
    tables = {
        "duckdb": in_duckdb,
        "parquet": pl.read_parquet(tmp_path / "lake" / "customers.parquet"),
        "postgresql": postgres.customers(),
    }
    deleted_sets = []
    for name, table in tables.items():
        live = table.filter(~pl.col("is_deleted")).select(CUSTOMER_FIELDS).sort("customer_id")
        assert live.cast(dict(exported.schema)).equals(exported), name  # type: ignore[arg-type]
        assert table.get_column("email").null_count() < table.height, name  # canonical values
        assert table.get_column("country").drop_nulls().str.len_chars().max() == 2, name
        deleted_sets.append(
            set(table.filter(pl.col("is_deleted")).get_column("customer_id").to_list())
        )
    assert deleted_sets[0] == deleted_sets[1] == deleted_sets[2]
    assert deleted_sets[0]
    assert not deleted_sets[0] & set(exported.get_column("customer_id").to_list())
    assert duck_runs.get_column("run_id").to_list()[-1] == run_id
    assert postgres.read("sync_runs").get_column("run_id").to_list().count(run_id) == 1


def test_wrong_database_password_exits_1_and_is_never_shown(
    tmp_path: Path, pg_database: str
) -> None:
    """A refused password exits 1 with one line naming the masked URL, before fetching."""
    wrong = pg_database.replace(PASSWORD, "not-the-Pw-77")
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["--destination", wrong, "--no-progress", "--log-level", "error",
         "--state-dir", str(tmp_path / "state"), "--api-url", "http://127.0.0.1:9/api"],
        environ={}, stdout=out, stderr=err,
    )
    assert code == 1
    line = err.getvalue().strip()
    assert "\n" not in line
    assert line.startswith("error: cannot connect to postgresql://***@127.0.0.1:")
    assert "password authentication failed" in line
    assert "not-the-Pw-77" not in line
    assert PASSWORD not in line


def test_database_only_runs_write_a_report_only_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no JSON destination the default report (beside a JSON file that is not
    written) is not written nor announced; an explicit --report PATH is written, on its
    own, with the run's figures."""
    monkeypatch.chdir(tmp_path)  # where the default output and report would be
    api = in_process_api(customers=30, fault_rate=0.0)

    def database_only(report: str | None) -> Settings:  # no --output: no JSON file at all
        return load_settings(
            {"api_url": BASE, "as_of": AS_OF_TEXT, "progress": False, "report": report,
             "state_dir": tmp_path / "state", "destination": [f"duckdb:{tmp_path / 'c.db'}"]},
            environ={}, env_file=None,
        )

    quiet = api.run(database_only(None))
    assert quiet.report_path is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.db", "state"]

    asked = tmp_path / "reports" / "quality.html"
    asked.parent.mkdir()
    loud = api.run(database_only(str(asked)))
    assert loud.report_path == asked
    page = asked.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert str(loud.metadata["run_id"]) in page
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.db", "reports", "state"]
