"""The HTML report at scale, and the README's screenshot (issue #15).

```sh
python -m bench.report --customers 1000000      # size and render times -> bench/results.md
python -m bench.report --screenshot docs/report.png   # the default run's report, in Chromium
```

Sizes and times come from one in-process run against the built-in simulator (no faults):
the report's bytes on disk, one more rendering of it from the run's metadata (HTML with
its SVG charts; in the run it is staged with the output set), and headless Chromium
(Debian's ``/usr/bin/chromium``, driven by Playwright) from navigation to the ``load``
event and to every chart laid out.
The section between the markers in ``bench/results.md`` is replaced; the rest of the
file (``python -m bench``) is left alone.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from customer_sync.config import load_settings, utcnow
from customer_sync.pipeline import run_pipeline
from customer_sync.report import report_bytes

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results.md"
BEGIN, END = "<!-- report-bench:begin -->", "<!-- report-bench:end -->"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def _run(out_dir: Path, **options: Any) -> tuple[Path, float, int]:
    """One run; the report's path, the seconds one more rendering of it takes (matplotlib
    already imported, as in the run), and the customers exported."""
    settings = load_settings(
        {"output": out_dir / "sample_output.json", "progress": False, **options},
        environ={}, env_file=None,
    )
    report = run_pipeline(settings, now=utcnow)
    assert report.report_path is not None
    started = time.perf_counter()
    report_bytes(report.metadata, report.result.rejected)
    render = time.perf_counter() - started
    return report.report_path, render, report.result.counts.exported


def _browser_times(path: Path, screenshot: Path | None = None) -> dict[str, float]:
    """Seconds from navigation to ``load``, and to every chart laid out, in Chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        started = time.perf_counter()
        page.goto(path.as_uri(), wait_until="load")
        loaded = time.perf_counter() - started
        sized = page.eval_on_selector_all(
            "svg.chart", "els => els.every(e => e.getBoundingClientRect().width > 0)"
        )
        laid_out = time.perf_counter() - started
        assert sized, "a chart has no size"
        if screenshot is not None:
            page.screenshot(path=str(screenshot), full_page=True)
        browser.close()
    return {"load": loaded, "charts": laid_out}


def _write_results(lines: list[str]) -> None:
    text = RESULTS.read_text()
    block = "\n".join([BEGIN, *lines, END])
    if BEGIN in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    RESULTS.write_text(text)


def measure(customers: int, per_page: int) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        path, render, exported = _run(
            Path(tmp), sim_customers=customers, per_page=per_page, sim_fault_rate=0.0
        )
        wall = time.perf_counter() - started
        size = path.stat().st_size
        browser = _browser_times(path)
    return [
        "## The HTML report at scale (issue #15)",
        "",
        f"`python -m bench.report --customers {customers}`, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: one run against the built-in "
        f"simulator ({customers:,} customers, {per_page} per page, no faults), then the "
        "report opened in headless Chromium (Debian's package, via Playwright).",
        "",
        "| Customers exported | Report size | Rendering (metadata to HTML and SVG) | Whole run "
        "| Chromium: load event | Chromium: all charts laid out |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| {exported:,} | {size / 1024:,.1f} KiB ({size:,} B; limit 2 MiB) "
        f"| {render:.2f} s | {wall:.1f} s | {browser['load'] * 1000:.0f} ms "
        f"| {browser['charts'] * 1000:.0f} ms |",
        "",
        "The report holds only aggregates (counts per field, value, bin and reason; the page "
        "timeline thinned to about 120 points), so its size does not grow with the customers. "
        "Times were taken on 2 cores shared with other work: read them as upper bounds.",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--per-page", type=int, default=100)
    parser.add_argument("--screenshot", type=Path, help="save the default run's report here")
    args = parser.parse_args()
    if args.screenshot is not None:
        with tempfile.TemporaryDirectory() as tmp:
            path, _, _ = _run(Path(tmp), backoff_base=0.05)
            _browser_times(path, screenshot=args.screenshot)
        print(f"wrote {args.screenshot}")
        return
    lines = measure(args.customers, args.per_page)
    _write_results(lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
