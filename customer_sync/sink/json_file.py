"""The JSON file sink: ``sample_output.json`` plus its side files, as one output set.

Layout of the main file (the user's format; keys kept exactly)::

    {
      "metadata": {"total_customers": ..., "export_timestamp": ..., "data_quality_summary": ...,
                   "run_id": ..., "output_files": {"rejected": {"file", "rows"}, ...},
                   ...more run metadata...},
      "customers": [
        {"customer_id": 1, ...},
        ...
      ]
    }

Side files, named from the output's stem (``sample_output.json`` gives
``sample_output.rejected.jsonl`` and ``sample_output.lineage.jsonl``), created with mode
0600 because they hold raw records (emails included). Every row carries the run id.

The files are one output set (:mod:`.output_set`): all are written to temp names first,
then replaced together, the main file last. Extra file outputs (the HTML report) join the
set through ``extra_parts``. Customers are encoded in chunks, never as one big document
in memory.

``--output -`` is :class:`JsonStreamSink`: the document streamed to stdout, not atomic,
with no side files.
"""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import polars as pl

from .. import jsoncodec
from ..atomic import PartialCommit, sweep_stale_temps
from ..errors import SinkError
from ..models import Merge, ProcessResult
from .base import SinkReport
from .output_set import MAIN, Part, PartBuilder, Step, refuse_non_regular, side_path, write_set

__all__ = ["JsonFileSink", "JsonStreamSink", "lineage_path", "new_run_id", "rejected_path"]

_CHUNK_ROWS = 50_000
_SIDE_MODE = 0o600
_ROW_SEP = b",\n    "

#: Explains merges as lineage rows (see :mod:`customer_sync.lineage`); the default keeps
#: what the transform says.
LineageWriter = Callable[[Sequence[Merge]], Iterable[Mapping[str, Any]]]


#: The raw-record line encoder, under the name the table sinks' branch imports it by;
#: new code calls :func:`customer_sync.jsoncodec.dumps_line`.
_line = jsoncodec.dumps_line


def rejected_path(output: Path) -> Path:
    return side_path(output, "rejected.jsonl")


def lineage_path(output: Path) -> Path:
    return side_path(output, "lineage.jsonl")


def new_run_id() -> str:
    """A fresh run id: 16 random hex digits."""
    return uuid.uuid4().hex[:16]


def _plain_lineage(merges: Sequence[Merge]) -> Iterator[Mapping[str, Any]]:
    for m in merges:
        yield {
            "survivor_id": m.survivor_id,
            "merged_id": m.merged_id,
            "reason": m.reason,
            "position": m.position,
        }


class JsonFileSink:
    """Writes customers and metadata to one JSON file and its side files, as one set.

    ``extra_parts`` build more files of the set (say ``<stem>.report.html``) from the
    result and the metadata; ``lineage`` explains merges; ``step`` is a test seam called
    between the steps of the set's write.
    """

    def __init__(
        self,
        path: Path,
        *,
        chunk_rows: int = _CHUNK_ROWS,
        extra_parts: Sequence[PartBuilder] = (),
        lineage: LineageWriter = _plain_lineage,
        step: Step | None = None,
    ) -> None:
        self.path = path
        self.chunk_rows = chunk_rows
        self.extra_parts = tuple(extra_parts)
        self.lineage = lineage
        self._step = step

    def __repr__(self) -> str:
        return f"JsonFileSink({str(self.path)!r})"

    def _side_paths(self) -> list[Path]:
        return [rejected_path(self.path), lineage_path(self.path)]

    def check_writable(self) -> None:
        directory = self.path.parent
        if not directory.exists():
            raise SinkError(
                f"output directory {str(directory)!r} does not exist",
                hint="create it or choose another --output",
            )
        if not directory.is_dir():
            raise SinkError(f"output directory {str(directory)!r} is not a directory")
        if not os.access(directory, os.W_OK | os.X_OK):
            raise SinkError(
                f"output directory {str(directory)!r} is not writable",
                hint="fix its permissions or choose another --output",
            )
        if self.path.is_dir():
            raise SinkError(f"output {str(self.path)!r} is a directory", hint="name a file")
        refuse_non_regular([self.path, *self._side_paths()])
        # Every file of the set is named from the stem: one sweep covers them all,
        # including parts added later (``out.report.html``).
        sweep_stale_temps(self.path.with_name(self.path.stem))

    def write(self, result: ProcessResult, metadata: Mapping[str, Any]) -> SinkReport:
        run_id = str(metadata.get("run_id") or new_run_id())
        rejected, lineage = rejected_path(self.path), lineage_path(self.path)
        sides = [
            Part(
                "rejected",
                rejected,
                lambda: (
                    jsoncodec.dumps_line(
                        {
                            "run_id": run_id,
                            "position": r.position,
                            "reason": r.reason,
                            "record": r.record,
                        }
                    )
                    for r in result.rejected
                ),
                _SIDE_MODE,
                len(result.rejected),
            ),
            Part(
                "lineage",
                lineage,
                lambda: (
                    jsoncodec.dumps_line({"run_id": run_id, **row})
                    for row in self.lineage(result.merges)
                ),
                _SIDE_MODE,
                len(result.merges),
            ),
        ]
        stamped = {**metadata, "run_id": run_id}
        sides.extend(build(result, stamped, self.path) for build in self.extra_parts)
        written = {
            **stamped,
            "output_files": {
                part.role: {
                    "file": os.path.relpath(part.path, self.path.parent),
                    "rows": part.rows,
                }
                for part in sides
            },
        }
        main = Part(MAIN, self.path, lambda: self._document(result, written))
        try:
            sizes = write_set([*sides, main], step=self._step or _no_step)
        except PartialCommit as exc:
            raise SinkError(
                f"cannot write output {str(self.path)!r}: {exc.strerror or exc} after "
                f"replacing {', '.join(p.name for p in exc.replaced)}",
                hint="the previous main file is intact; its run_id tells the side files "
                "of this run apart; run the command again",
            ) from exc
        except OSError as exc:
            raise SinkError(
                f"cannot write output {str(self.path)!r}: {exc.strerror or exc}",
                hint="the previous output files are intact",
            ) from exc
        return SinkReport(
            target=str(self.path),
            side_files={part.role: str(part.path) for part in sides},
            bytes_written=sizes[MAIN],
            metadata=written,
        )

    def _document(self, result: ProcessResult, metadata: Mapping[str, Any]) -> Iterator[bytes]:
        return document_chunks(result, metadata, self.chunk_rows)


class JsonStreamSink:
    """``--output -``: the document streamed to a binary stream (stdout). Not atomic: a
    failure half way leaves a partial document. No side files are written."""

    def __init__(self, stream: BinaryIO, *, chunk_rows: int = _CHUNK_ROWS) -> None:
        self.stream = stream
        self.chunk_rows = chunk_rows

    def __repr__(self) -> str:
        return "JsonStreamSink(stdout)"

    def check_writable(self) -> None:
        """Nothing to check before the run: stdout is open."""

    def write(self, result: ProcessResult, metadata: Mapping[str, Any]) -> SinkReport:
        written = {**metadata, "run_id": str(metadata.get("run_id") or new_run_id())}
        size = 0
        try:
            for chunk in document_chunks(result, written, self.chunk_rows):
                self.stream.write(chunk)
                size += len(chunk)
            self.stream.flush()
        except OSError as exc:
            raise SinkError(f"cannot write the output to stdout: {exc.strerror or exc}") from exc
        return SinkReport(target="-", bytes_written=size, metadata=written)


def _no_step(label: str) -> None:
    """No fault injection."""


def document_chunks(
    result: ProcessResult, metadata: Mapping[str, Any], chunk_rows: int
) -> Iterator[bytes]:
    """The main document in chunks: metadata first, then customers a slice at a time."""
    meta = jsoncodec.dumps_indented(dict(metadata))
    yield b'{\n  "metadata": ' + meta.replace(b"\n", b"\n  ") + b',\n  "customers": ['
    first = True
    for chunk in result.frame.iter_slices(chunk_rows):
        if chunk.height == 0:
            continue
        yield (b"\n    " if first else _ROW_SEP) + _rows(chunk)
        first = False
    yield b"\n  ]\n}\n" if not first else b"]\n}\n"


def _rows(chunk: pl.DataFrame) -> bytes:
    """One compact JSON object per row, joined by ``_ROW_SEP``, encoded by Polars in Rust.

    NDJSON escapes newlines inside strings, so the raw newlines are exactly the row
    boundaries; this avoids building a Python dict per row.
    """
    buffer = io.BytesIO()
    chunk.write_ndjson(buffer)
    return buffer.getvalue().rstrip(b"\n").replace(b"\n", _ROW_SEP)
