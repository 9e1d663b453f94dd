"""dlt's ``rest_api`` source, run by ``_dlt_runner.py`` in a venv of its own.

dlt is not a dependency of the project: ``python -m bench --setup-dlt`` makes
``bench/.venv-dlt`` (gitignored) and installs a pinned dlt there. Without that venv the
rows are skipped. Wall time covers dlt's iteration of the source only (not its import).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Literal

from ..procs import child_env, run_measured
from .base import FetchResult, Target

__all__ = ["DLT_REQUIREMENT", "DltRestApi", "dlt_python", "setup_dlt_venv"]

DLT_REQUIREMENT = "dlt==1.31.0"
RUNNER = Path(__file__).with_name("_dlt_runner.py")
SETUP_HINT = "skipped: run `python -m bench --setup-dlt`"

Paginator = Literal["explicit", "auto"]


def dlt_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def setup_dlt_venv(venv: Path) -> None:
    """Create ``venv`` and install the pinned dlt into it (idempotent)."""
    if not dlt_python(venv).exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(dlt_python(venv)), "-m", "pip", "install", "--quiet", DLT_REQUIREMENT],
        check=True,
    )


class DltRestApi:
    """One dlt contender: the explicit paginator, or dlt's auto-detected one."""

    def __init__(
        self, venv: Path, repo_root: Path, paginator: Paginator, *, timeout: float = 900.0
    ) -> None:
        self._venv = venv
        self._repo_root = repo_root
        self._paginator = paginator
        self._timeout = timeout
        self.key = "dlt" if paginator == "explicit" else "dlt-auto"
        self.label = (
            "dlt rest_api, PageNumberPaginator(base_page=1)"
            if paginator == "explicit"
            else "dlt, auto paginator"
        )

    def unavailable(self) -> str | None:
        return None if dlt_python(self._venv).exists() else SETUP_HINT

    def run(self, target: Target, workdir: Path) -> FetchResult:
        argv = [
            str(dlt_python(self._venv)),
            str(RUNNER),
            "--base-url",
            target.base_url,
            "--per-page",
            str(target.per_page),
            "--paginator",
            self._paginator,
        ]
        env = child_env(
            self._repo_root,
            {
                "RUNTIME__DLTHUB_TELEMETRY": "false",  # no network calls home
                "DLT_DATA_DIR": str(workdir / "dlt-data"),
                "DLT_PROJECT_DIR": str(workdir),
            },
        )
        env.pop("PYTHONPATH", None)  # the dlt venv must not see our packages
        proc = run_measured(argv, cwd=workdir, env=env, timeout=self._timeout)
        if proc.timed_out:
            return FetchResult.failed(f"timed out after {proc.wall_seconds:.0f} s")
        try:
            report: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            return FetchResult.failed(f"exit {proc.returncode}: {proc.tail()}")
        pages = report.get("ok_pages") or []
        extra = {
            "client_requests": report.get("http_responses"),
            "retry": report.get("retry"),
            "dlt_version": report.get("dlt_version"),
            "ok_pages": pages,
            "process_seconds": proc.wall_seconds,
        }
        if report.get("error"):
            return FetchResult(
                status="failed",
                records=report.get("records"),
                unique_records=report.get("unique_records"),
                wall_seconds=report.get("wall_seconds"),
                note=str(report["error"]),
                extra=extra,
            )
        return FetchResult(
            status="ok",
            records=report.get("records"),
            unique_records=report.get("unique_records"),
            wall_seconds=report.get("wall_seconds"),
            peak_rss_bytes=proc.peak_rss_bytes,
            note=_describe_pages(pages, -(-target.expected_records // target.per_page)),
            extra=extra,
        )


def _describe_pages(pages: list[int | None], total_pages: int) -> str:
    """Say which pages were fetched twice or never, e.g. ``page 1 twice; never page 12``."""
    if not pages:
        return "no pages"
    asked = [1 if page is None else page for page in pages]  # no ?page= serves page 1
    seen: dict[int, int] = {}
    for page in asked:
        seen[page] = seen.get(page, 0) + 1
    twice = [page for page, count in sorted(seen.items()) if count > 1]
    parts = []
    if twice:
        parts.append("fetched page " + ", ".join(map(str, twice)) + " twice")
    missing = [page for page in range(1, total_pages + 1) if page not in seen]
    if missing:
        parts.append("never fetched page " + ", ".join(map(str, missing)))
    return "; ".join(parts)
