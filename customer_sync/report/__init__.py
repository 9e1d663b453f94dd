"""The HTML data-quality report (``--report``): rendered from the run's metadata, written
as one more file of the JSON output's set (staged with it, replaced together).

:func:`render_report` builds the page (:mod:`.page`, charts in :mod:`.charts`);
:func:`report_part` makes it a part of the output set; :func:`write_report` writes it on
its own; :func:`check_report_writable` fails before any fetching.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..atomic import sweep_stale_temps, write_chunks
from ..errors import SinkError
from ..models import Rejection
from ..sink.output_set import Part, PartBuilder, refuse_non_regular
from .background import ReportRenderer
from .page import mask_emails, rejection_examples, render_report

__all__ = [
    "ReportRenderer",
    "check_report_writable",
    "mask_emails",
    "rejection_examples",
    "render_report",
    "report_bytes",
    "report_part",
    "write_report",
]


def check_report_writable(path: Path) -> None:
    """Raise :class:`SinkError` now, before fetching, if the report cannot be written."""
    directory = path.parent
    if not directory.is_dir():
        raise SinkError(
            f"report directory {str(directory)!r} does not exist",
            hint="create it, choose another --report, or pass --no-report",
        )
    if path.is_dir():
        raise SinkError(f"report {str(path)!r} is a directory", hint="name a file")
    refuse_non_regular([path])  # a FIFO or a device: exit 2, like the output's own files
    sweep_stale_temps(path)


def report_bytes(metadata: Mapping[str, Any], rejected: Iterable[Rejection] = ()) -> bytes:
    """The report page, UTF-8: what an output set's ``report`` part writes."""
    return render_report(metadata, rejection_examples(rejected)).encode("utf-8")


def report_part(path: Path, renderer: ReportRenderer | None = None) -> PartBuilder:
    """A builder of the report's :class:`Part` for :class:`JsonFileSink` (``extra_parts``):
    the page is rendered from the metadata the sink writes, while the set is staged (or
    taken from ``renderer``, which drew it in its worker process)."""

    def build(result: Any, metadata: Mapping[str, Any], output: Path) -> Part:
        rejected: Iterable[Rejection] = result.rejected
        if renderer is not None:
            return Part("report", path, lambda: [renderer.page(metadata, rejected)])
        return Part("report", path, lambda: [report_bytes(metadata, rejected)])

    return build


def write_report(
    path: Path,
    metadata: Mapping[str, Any],
    rejected: Iterable[Rejection] = (),
    renderer: ReportRenderer | None = None,
) -> int:
    """Render (or take ``renderer``'s page) and atomically write the report; return its
    size in bytes."""
    page = (
        renderer.page(metadata, rejected)
        if renderer is not None
        else report_bytes(metadata, rejected)
    )
    try:
        return write_chunks(path, [page])
    except OSError as exc:
        raise SinkError(
            f"cannot write report {str(path)!r}: {exc.strerror or exc}",
            hint="the previous report is intact",
        ) from exc
