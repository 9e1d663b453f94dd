"""The report rendered in a second process, so that it costs a run little wall time.

The report's charts are matplotlib figures: importing matplotlib takes about 0.4 s and
drawing the page about 0.6 s, all of it Python holding the GIL. A :class:`ReportRenderer`
starts one worker process (``python -m customer_sync.report.worker``) when the run
starts; the worker imports the report modules while the main process fetches, then reads
one job (the metadata and the rejection examples, pickled) from its stdin and writes the
page to its stdout. :meth:`ReportRenderer.start` hands it the job as soon as the metadata
is final, so it draws while the main process writes the JSON document and the other
destinations. On the 2-CPU machine of ``bench/results.md`` that takes the report off the
critical path of a run.

The worker is a plain child process with its own pipes: it never writes to the run's
stdout or stderr, and it exits by itself when the run ends or dies (its stdin closes).

The page is the same bytes whichever process draws it: :meth:`ReportRenderer.page`
returns the worker's page only for the very metadata and rejection examples it was
started with, and draws it in this process otherwise (a worker that could not start or
failed, metadata that changed since). The CLI uses one; tests and library callers draw
in process unless they pass one to :func:`~customer_sync.pipeline.run_pipeline`.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..models import Rejection

__all__ = ["ReportRenderer"]


def _render(metadata: Mapping[str, Any], examples: Mapping[str, str]) -> bytes:
    from .worker import render

    return render(metadata, examples)


class ReportRenderer:
    """One worker process that draws the run's report page (see the module docstring)."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._job: tuple[Mapping[str, Any], Mapping[str, str]] | None = None
        self._thread: threading.Thread | None = None
        self._page: bytes | None = None
        #: Whether the last page :meth:`page` returned was the worker's.
        self.drawn_by_worker = False
        # The package's own root first on the path: the worker imports this very copy.
        root = str(Path(__file__).resolve().parents[2])
        path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
        if not sys.executable:
            return  # an embedded interpreter: the page is drawn in process
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "customer_sync.report.worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env={**os.environ, "PYTHONPATH": path},
            )
        except OSError:
            self._process = None  # no second process here: the page is drawn in process

    def __enter__(self) -> ReportRenderer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self, metadata: Mapping[str, Any], rejected: Iterable[Rejection]) -> None:
        """Hand the worker the page of ``metadata`` to draw (once; later calls draw in
        process)."""
        from .page import rejection_examples

        process = self._process
        if process is None or self._job is not None:
            return
        examples = rejection_examples(rejected)
        self._job = (metadata, examples)
        payload = pickle.dumps((dict(metadata), dict(examples)), pickle.HIGHEST_PROTOCOL)

        def exchange() -> None:
            try:
                out, _ = process.communicate(payload)
            except (OSError, ValueError):
                return
            if process.returncode == 0:
                self._page = out

        self._thread = threading.Thread(target=exchange, name="report", daemon=True)
        self._thread.start()

    def page(self, metadata: Mapping[str, Any], rejected: Iterable[Rejection]) -> bytes:
        """The page of ``metadata``: the worker's if it was started with the same metadata
        and rejections and succeeded, else drawn here."""
        from .page import rejection_examples

        examples = rejection_examples(rejected)
        if self._thread is not None and self._job == (metadata, examples):
            self._thread.join()
            if self._page is not None:
                self.drawn_by_worker = True
                return self._page
        return _render(metadata, examples)

    def close(self) -> None:
        """Stop the worker (a page still being drawn is abandoned)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        if process is not None:
            for pipe in (process.stdin, process.stdout):
                if pipe is not None and not pipe.closed:
                    pipe.close()
