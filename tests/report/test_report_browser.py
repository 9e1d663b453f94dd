"""The report in a real browser: Debian's Chromium, headless, driven by Playwright.

The browser is the system one (``/usr/bin/chromium``, or ``$CHROMIUM``); nothing is
downloaded. If it cannot start, these tests fail: they never skip.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from customer_sync.report import render_report

from .support import demo_run, hand_built_quality, reqres_warnings

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# The flags this machine needs: no sandbox as root, and no background calls to the network.
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="module")
def browser(demo: Any) -> Iterator[Any]:
    """Headless Chromium; a browser that cannot start fails the test with the fix.

    Playwright's sync API keeps an event loop running while the browser is open, so the
    pipeline runs (``demo``, ``asyncio.run``) come first.
    """
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        except Error as exc:
            pytest.fail(
                f"headless Chromium did not start from {CHROMIUM}: {exc.message.splitlines()[0]} "
                "(install it: apt-get install -y chromium; or set CHROMIUM)",
                pytrace=False,
            )
        yield chromium
        chromium.close()


def _open(browser: Any, path: Path) -> tuple[Any, list[str]]:
    """The page at ``path``, and every console error, page error or outside request."""
    problems: list[str] = []
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.on("request", lambda r: None if r.url == path.as_uri()
            else problems.append(f"request: {r.url}"))
    page.goto(path.as_uri(), wait_until="load")
    return page, problems


def _chart_sizes(page: Any) -> list[dict[str, float]]:
    return list(page.eval_on_selector_all(
        "svg.chart",
        "els => els.map(e => { const r = e.getBoundingClientRect();"
        " const shapes = e.querySelectorAll('path,rect,text').length;"
        " return {w: r.width, h: r.height, shapes: shapes}; })",
    ))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    """A demo run's report page, and the metadata of its JSON file."""
    tmp = tmp_path_factory.mktemp("browser")
    report = demo_run(tmp)
    metadata = json.loads((tmp / "sample_output.json").read_text())["metadata"]
    assert report.report_path is not None
    return metadata, report.report_path


def test_report_loads_without_errors_and_every_chart_renders(browser: Any, demo: Any) -> None:
    """No console error or request; every SVG chart has a size and shapes in it."""
    _, path = demo
    page, problems = _open(browser, path)
    sizes = _chart_sizes(page)
    assert problems == []
    assert len(sizes) == path.read_text().count('class="chart"') >= 5
    assert all(s["w"] > 50 and s["h"] > 50 and s["shapes"] > 5 for s in sizes), sizes
    page.close()


def test_headline_numbers_shown_equal_the_metadata(browser: Any, demo: Any) -> None:
    """What a person reads in the browser is the JSON file's numbers."""
    metadata, path = demo
    page, _ = _open(browser, path)
    shown = dict(page.eval_on_selector_all(
        "[data-metric]", "els => els.map(e => [e.dataset.metric, e.innerText])"))
    accounting = metadata["accounting"]
    for key in ("records_in", "exported", "duplicates_merged", "rejected"):
        assert int(shown[key].replace(",", "")) == accounting[key]
    for key, value in metadata["data_quality_summary"].items():
        assert int(shown[key].replace(",", "")) == value
    assert int(shown["requests"]) == metadata["run_stats"]["requests"]
    assert shown["source"] == metadata["source"]["url"]
    page.close()


def test_full_report_with_warnings_renders_every_chart(
    browser: Any, demo: Any, tmp_path: Path
) -> None:
    """With quality details, coverage and warnings: all charts drawn, the alert visible."""
    metadata, _ = demo
    full = {**hand_built_quality(metadata), "source_field_warnings": reqres_warnings()}
    path = tmp_path / "full.html"
    path.write_text(render_report(full, {"missing_id": '{"id": null, "email": "***@x.org"}'}))
    page, problems = _open(browser, path)
    sizes = _chart_sizes(page)
    assert problems == []
    assert len(sizes) == 9
    assert all(s["w"] > 50 and s["h"] > 50 for s in sizes), sizes
    alert = page.locator("[role=alert]")
    assert alert.is_visible()
    assert "engagement_level is unknown for all 12 customers" in alert.inner_text()
    page.close()
