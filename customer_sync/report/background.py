"""The report rendered in a second process, so that it costs a run little wall time.

The report's charts are matplotlib figures: importing matplotlib takes about 0.4 s and
drawing the page about 0.6 s, all of it Python holding the GIL. A :class:`ReportRenderer`
starts one worker process when the run starts; the worker imports the report modules
while the main process fetches, and draws the page (:meth:`ReportRenderer.start`) while
the main process writes the JSON document and the other destinations. On the 2-CPU
machine of ``bench/results.md`` that takes the report off the critical path of a run.

The page is the same bytes whichever process draws it: :meth:`ReportRenderer.page`
returns the worker's page only for the very metadata and rejection examples it was
started with, and renders in this process otherwise (no renderer, a worker that could not
start or died, metadata that changed since). The CLI uses one; tests and library callers
render in process unless they pass one to :func:`~customer_sync.pipeline.run_pipeline`.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from ..models import Rejection

__all__ = ["ReportRenderer"]


def _warm_up() -> None:
    """Import what drawing the page needs (in the worker, while the run fetches)."""
    from . import charts, page  # noqa: F401


def _render(metadata: Mapping[str, Any], examples: Mapping[str, str]) -> bytes:
    from .page import render_report

    return render_report(metadata, examples).encode("utf-8")


class ReportRenderer:
    """One worker process that draws the run's report page (see the module docstring)."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._job: tuple[Mapping[str, Any], Mapping[str, str], Future[bytes]] | None = None
        try:
            # spawn: a clean interpreter (forking a process that runs Polars' threads is
            # unsafe), started now so that its imports overlap the fetch.
            self._pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn")
            )
            self._pool.submit(_warm_up)
        except (OSError, RuntimeError):
            self._pool = None  # no second process here: the page is drawn in process

    def __enter__(self) -> ReportRenderer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self, metadata: Mapping[str, Any], rejected: Iterable[Rejection]) -> None:
        """Start drawing the page of ``metadata`` in the worker."""
        from .page import rejection_examples

        if self._pool is None:
            return
        examples = rejection_examples(rejected)
        try:
            future = self._pool.submit(_render, metadata, examples)
        except (BrokenProcessPool, RuntimeError):
            self._pool = None
            return
        self._job = (metadata, examples, future)

    def page(self, metadata: Mapping[str, Any], rejected: Iterable[Rejection]) -> bytes:
        """The page of ``metadata``: the worker's if it was started with the same metadata
        and rejections and finished, else drawn here."""
        from .page import rejection_examples

        examples = rejection_examples(rejected)
        job, self._job = self._job, None
        if job is not None and job[0] == metadata and job[1] == examples:
            try:
                return job[2].result()
            except (BrokenProcessPool, OSError, RuntimeError):
                pass  # the worker died: draw it here
        return _render(metadata, examples)

    def close(self) -> None:
        """Stop the worker (a page still being drawn is abandoned)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
