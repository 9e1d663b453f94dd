"""The report drawn in a second process is the page drawn in process, byte for byte."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from customer_sync.report import ReportRenderer, report_bytes

from .support import demo_run


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return demo_run(tmp_path_factory.mktemp("demo"))


def test_the_workers_page_is_the_page_drawn_in_process(demo: Any) -> None:
    rejected = demo.result.rejected
    assert rejected, "the demo data has records to reject; the examples are compared too"
    with ReportRenderer() as renderer:
        renderer.start(demo.metadata, rejected)
        page = renderer.page(demo.metadata, rejected)
        assert renderer.drawn_by_worker
    assert page == report_bytes(demo.metadata, rejected)


def test_metadata_changed_after_start_is_drawn_from_the_new_metadata(demo: Any) -> None:
    changed = {**demo.metadata, "run_id": "another-run"}
    with ReportRenderer() as renderer:
        renderer.start(demo.metadata, demo.result.rejected)
        page = renderer.page(changed, demo.result.rejected)
        assert not renderer.drawn_by_worker
    assert page == report_bytes(changed, demo.result.rejected)
    assert b"another-run" in page


def test_a_closed_renderer_draws_in_process(demo: Any) -> None:
    renderer = ReportRenderer()
    renderer.close()
    renderer.start(demo.metadata, demo.result.rejected)  # nothing to start it on
    assert renderer.page(demo.metadata, ()) == report_bytes(demo.metadata, ())


def test_the_cli_writes_the_report_drawn_by_its_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default run (built-in simulator) through the CLI, which uses the renderer:
    the report is there, and says what the JSON file says."""
    from customer_sync import jsoncodec
    from customer_sync.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["--no-progress", "--sim-customers", "60", "--log-level", "warning"]) == 0
    document = jsoncodec.loads((tmp_path / "sample_output.json").read_bytes())
    page = (tmp_path / "sample_output.report.html").read_text()
    assert f'<meta name="run-id" content="{document["metadata"]["run_id"]}">' in page
