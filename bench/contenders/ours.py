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


_CUSTOMERS_KEY = b',\n  "customers": ['
_ROW_KEY = b'"customer_id":'


def _read_metadata(path: Path) -> dict[str, Any]:
    """The output's metadata, and its customer rows counted, without loading the rows.

    Loading a 1,000,000-customer document here would grow this process by about 1 GiB, and
    on Linux a child's ``ru_maxrss`` starts from its parent's RSS at fork: every later
    pipeline run would then report this process's memory as its own peak.
    """
    chunk_size = 8 << 20
    head = b""
    rows = 0
    carry = b""
    with path.open("rb") as fh:
        while chunk := fh.read(chunk_size):
            block = carry + chunk
            if not head and _CUSTOMERS_KEY in block:
                cut = block.index(_CUSTOMERS_KEY)
                head, block = block[:cut] + b"}", block[cut:]
            rows += block.count(_ROW_KEY)
            carry = block[-(len(_ROW_KEY) - 1) :]  # too short to hold a whole key: no double count
    if not head:
        raise orjson.JSONDecodeError("no customers array in the output", "", 0)
    metadata: dict[str, Any] = orjson.loads(head).get("metadata") or {}
    metadata["_exported"] = rows
    return metadata


class OurPipeline:
    key = "ours"
    label = "Our pipeline (end to end)"

    def __init__(self, repo_root: Path, *, timeout: float = 900.0) -> None:
        self._repo_root = repo_root
        self._timeout = timeout

    def unavailable(self) -> str | None:
        return pipeline_missing()

    def run(
        self, target: Target, workdir: Path, *, extra_args: tuple[str, ...] = ()
    ) -> FetchResult:
        output = workdir / "output.json"
        argv = [
            sys.executable,
            "-m",
            MODULE,
            "--api-url",
            target.base_url,
            *(() if target.use_default_page_size else ("--per-page", str(target.per_page))),
            "--output",
            str(output),
            "--no-progress",
            "--log-level",
            "warning",
            *extra_args,
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
