"""Our pipeline, end to end: ``python -m src.main`` in its own process, with its defaults.

Wall time is the whole child process (interpreter start, fetch, transform, export), so
it is an upper bound on the fetch; ``extra["pipeline_seconds"]`` is the pipeline's own
``run_stats.duration_seconds``. Peak RSS is the child's, from ``os.wait4``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import orjson

from ..procs import ProcResult, child_env, run_measured
from .base import FetchResult, Target

__all__ = ["OurPipeline", "pipeline_missing"]

MODULE = "src.main"


def pipeline_missing(module: str = MODULE) -> str | None:
    """``None`` when ``python -m src.main`` can run, else the note for a skipped row."""
    try:
        spec = importlib.util.find_spec(module)
    except ImportError as exc:
        return f"not available ({exc})"
    return None if spec is not None else f"not available (no {module} yet)"


def _read_metadata(path: Path) -> dict[str, Any]:
    document = orjson.loads(path.read_bytes())
    metadata: dict[str, Any] = document.get("metadata") or {}
    metadata["_exported"] = len(document.get("customers") or [])
    return metadata


class OurPipeline:
    key = "ours"
    label = "Our pipeline (end to end)"

    def __init__(self, repo_root: Path, *, timeout: float = 900.0) -> None:
        self._repo_root = repo_root
        self._timeout = timeout

    def unavailable(self) -> str | None:
        return pipeline_missing()

    def run(self, target: Target, workdir: Path) -> FetchResult:
        output = workdir / "output.json"
        argv = [
            sys.executable,
            "-m",
            MODULE,
            "--api-url",
            target.base_url,
            "--per-page",
            str(target.per_page),
            "--output",
            str(output),
            "--no-progress",
            "--log-level",
            "warning",
        ]
        # A fresh working directory per run: no checkpoint, cache or .env carries over.
        proc = run_measured(
            argv, cwd=workdir, env=child_env(self._repo_root), timeout=self._timeout
        )
        return self._result(proc, output)

    @staticmethod
    def _result(proc: ProcResult, output: Path) -> FetchResult:
        if proc.timed_out:
            return FetchResult.failed(f"timed out after {proc.wall_seconds:.0f} s")
        if proc.returncode != 0 or not output.exists():
            return FetchResult.failed(f"exit {proc.returncode}: {proc.tail()}")
        try:
            metadata = _read_metadata(output)
        except (OSError, orjson.JSONDecodeError) as exc:
            return FetchResult.failed(f"unreadable output: {exc}")
        stats: dict[str, Any] = metadata.get("run_stats") or {}
        return FetchResult(
            status="ok",
            records=metadata.get("records_fetched"),
            wall_seconds=proc.wall_seconds,
            peak_rss_bytes=proc.peak_rss_bytes,
            extra={
                "exported": metadata["_exported"],
                "client_requests": stats.get("requests"),
                "client_429s": stats.get("rate_limited"),
                "retries": stats.get("retries_total"),
                "pipeline_seconds": stats.get("duration_seconds"),
            },
        )
