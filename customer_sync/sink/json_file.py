"""The JSON file sink: ``sample_output.json`` plus its side files.

Layout of the main file (the user's format; keys kept exactly)::

    {
      "metadata": {"total_customers": ..., "export_timestamp": ..., "data_quality_summary": ...,
                   ...more run metadata...},
      "customers": [
        {"customer_id": 1, ...},
        ...
      ]
    }

Side files, named from the output's stem (``sample_output.json`` gives
``sample_output.rejected.jsonl`` and ``sample_output.lineage.jsonl``), created with mode
0600 because they hold raw records (emails included).

Everything is written to temp files first and replaced together, so a failure leaves every
previous file intact. Customers are encoded in chunks, never as one big document in memory.
"""

from __future__ import annotations

import io
import json
import math
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from ..errors import SinkError
from ..models import ProcessResult
from .atomic import atomic_writer, sweep_stale_temps
from .base import SinkReport

__all__ = ["JsonFileSink", "lineage_path", "rejected_path"]

_CHUNK_ROWS = 50_000
_SIDE_MODE = 0o600
_ROW_SEP = b",\n    "


def rejected_path(output: Path) -> Path:
    return output.with_name(f"{output.stem}.rejected.jsonl")


def lineage_path(output: Path) -> Path:
    return output.with_name(f"{output.stem}.lineage.jsonl")


class JsonFileSink:
    """Writes customers and metadata to one JSON file, atomically."""

    def __init__(self, path: Path, *, chunk_rows: int = _CHUNK_ROWS) -> None:
        self.path = path
        self.chunk_rows = chunk_rows

    def __repr__(self) -> str:
        return f"JsonFileSink({str(self.path)!r})"

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
        sweep_stale_temps(self.path)
        sweep_stale_temps(rejected_path(self.path))
        sweep_stale_temps(lineage_path(self.path))

    def write(self, result: ProcessResult, metadata: Mapping[str, Any]) -> SinkReport:
        rejected, lineage = rejected_path(self.path), lineage_path(self.path)
        try:
            with (
                atomic_writer(self.path) as main,
                atomic_writer(rejected, mode=_SIDE_MODE) as rej,
                atomic_writer(lineage, mode=_SIDE_MODE) as lin,
            ):
                size = 0
                for chunk in self._document(result, metadata):
                    main.write(chunk)
                    size += len(chunk)
                for r in result.rejected:
                    rej.write(
                        _line({"position": r.position, "reason": r.reason, "record": r.record})
                    )
                for m in result.merges:
                    lin.write(
                        _line(
                            {
                                "survivor_id": m.survivor_id,
                                "merged_id": m.merged_id,
                                "reason": m.reason,
                                "position": m.position,
                            }
                        )
                    )
        except OSError as exc:
            raise SinkError(
                f"cannot write output {str(self.path)!r}: {exc.strerror or exc}",
                hint="the previous output is intact",
            ) from exc
        return SinkReport(
            target=str(self.path),
            side_files={"rejected": str(rejected), "lineage": str(lineage)},
            bytes_written=size,
        )

    def _document(self, result: ProcessResult, metadata: Mapping[str, Any]) -> Iterator[bytes]:
        meta = orjson.dumps(dict(metadata), option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
        yield b'{\n  "metadata": ' + meta.replace(b"\n", b"\n  ") + b',\n  "customers": ['
        first = True
        for chunk in result.frame.iter_slices(self.chunk_rows):
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


def _line(obj: Mapping[str, Any]) -> bytes:
    """One strict JSON line. Raw records may hold what orjson refuses (integers beyond 64
    bits, lone surrogates, nesting deeper than 254): those lines go through the standard
    library instead, with ``NaN`` and infinities written as ``null`` as orjson does. A
    record nested too deeply even for that is replaced by a note, never a crash."""
    try:
        return orjson.dumps(
            obj, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE, default=repr
        )
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        pass
    try:
        text = json.dumps(_strict(obj), allow_nan=False, default=repr, separators=(",", ":"))
    except (ValueError, RecursionError):
        note = {k: v for k, v in obj.items() if k != "record"}
        note["record"] = "(not representable as JSON: nested too deeply)"
        text = json.dumps(_strict(note), allow_nan=False, default=repr, separators=(",", ":"))
    return text.encode("ascii") + b"\n"


def _strict(value: Any) -> Any:
    """A copy of ``value`` with non-finite floats as ``None`` and every key a string.

    Iterative, so that a deeply nested raw record cannot exhaust the Python stack.
    """
    root: list[Any] = [None]
    stack: list[tuple[Any, Any, Any]] = [(value, root, 0)]
    while stack:
        item, parent, slot = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            parent[slot] = None
        elif isinstance(item, Mapping):
            copy: dict[str, Any] = dict.fromkeys(map(str, item))
            parent[slot] = copy
            stack.extend((v, copy, str(k)) for k, v in item.items())
        elif isinstance(item, list | tuple):
            items: list[Any] = [None] * len(item)
            parent[slot] = items
            stack.extend((v, items, i) for i, v in enumerate(item))
        else:
            parent[slot] = item
    return root[0]
