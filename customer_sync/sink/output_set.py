"""The output set: the main file and its side files, replaced together.

A run's file outputs are a list of named :class:`Part` s (the main JSON, the rejected and
lineage side files, and later the HTML report ``<stem>.report.html``). :func:`write_set`
writes them in two phases:

1. *stage*: every part is written to its temp name (``.NAME.PID.tmp``, created
   ``O_EXCL | O_NOFOLLOW``) and fsynced. A failure here (disk full) removes every temp and
   leaves every previous file as it was.
2. *commit*: the side parts are renamed over their targets, the main part last, and the
   directory is fsynced. Renames do not fail for want of space.

A crash in phase 1 leaves the old set plus temp files, which the next run sweeps. A crash
in phase 2 can leave new side files beside the old main file. Every part carries the
run id (``metadata.run_id`` in the main file, a ``run_id`` in every side-file row), and
the main file's ``metadata.output_files`` names each side file with its row count, so a
reader can tell the mismatch: :func:`check_output_set` does, and the tests kill the writer
at every step to prove these are the only states.

To join the set, another file output builds a :class:`Part` (its path from
:func:`side_path`) and the sink is given a :data:`PartBuilder` (see
:class:`~customer_sync.sink.json_file.JsonFileSink`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import jsoncodec
from ..atomic import not_a_regular_file, write_together
from ..errors import ConfigError

__all__ = [
    "MAIN",
    "Part",
    "PartBuilder",
    "Step",
    "check_output_set",
    "refuse_non_regular",
    "side_path",
    "write_set",
]

MAIN = "main"

#: Called before each step of :func:`write_set` with its label (``"stage rejected"``,
#: ``"replace main"``...). Tests use it to kill the writer between any two steps.
Step = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Part:
    """One file of the set: its role, its path, its bytes (produced lazily) and its mode.

    ``rows`` is what the main file's metadata says about it (a row count, or ``None``).
    """

    role: str
    path: Path
    chunks: Callable[[], Iterable[bytes]]
    mode: int = 0o644
    rows: int | None = None


#: Builds one extra part from the run's result, its metadata and the output path.
PartBuilder = Callable[[Any, Mapping[str, Any], Path], Part]


def side_path(output: Path, suffix: str) -> Path:
    """The path of a side file: ``out.json`` and ``"rejected.jsonl"`` give
    ``out.rejected.jsonl``."""
    return output.with_name(f"{output.stem}.{suffix}")


def refuse_non_regular(paths: Iterable[Path]) -> None:
    """Raise :class:`ConfigError` (exit 2) if any path exists and is not a regular file or
    a symlink to one: a FIFO, a device (``/dev/null``), a socket or a directory."""
    for path in paths:
        kind = not_a_regular_file(path)
        if kind is not None:
            raise ConfigError(
                f"output {str(path)!r} exists and is {kind}, not a regular file",
                hint="name a regular file, or --output - to write the JSON to stdout",
            )


def _no_step(label: str) -> None:
    """The default :data:`Step`: nothing."""


def write_set(parts: Sequence[Part], *, step: Step = _no_step) -> dict[str, int]:
    """Write ``parts`` as one set (see the module docstring); return bytes per role.

    The part whose role is :data:`MAIN` is replaced last. Raises ``OSError`` from the
    staging phase with every temp removed, and :class:`ConfigError` if a target became a
    non-regular file meanwhile.
    """
    ordered = sorted(parts, key=lambda part: part.role == MAIN)
    sizes = write_together(
        [(part.path, part.chunks, part.mode, part.role) for part in ordered],
        step=step,
        before_commit=lambda: refuse_non_regular(part.path for part in ordered),
    )
    return {part.role: size for part, size in zip(ordered, sizes, strict=True)}


def check_output_set(main: Path) -> list[str]:
    """What does not belong together in the set ``main`` heads (empty: a consistent set).

    Reads the main file's ``metadata.run_id`` and ``metadata.output_files``; each side file
    must hold exactly the rows announced, each with that run id. A part announced without
    a row count (the HTML report) only has to be there.
    """
    document = jsoncodec.loads(main.read_bytes())
    metadata = document.get("metadata", {}) if isinstance(document, dict) else {}
    run_id = metadata.get("run_id")
    problems: list[str] = []
    for role, entry in (metadata.get("output_files") or {}).items():
        path = main.parent / str(entry["file"])
        try:
            lines = path.read_bytes().splitlines()
        except FileNotFoundError:
            problems.append(f"{role}: {path.name} is missing")
            continue
        if entry.get("rows") is None:  # not a JSON-lines file (the HTML report)
            continue
        rows = [jsoncodec.loads(line) for line in lines if line.strip()]
        if entry.get("rows") is not None and len(rows) != entry["rows"]:
            problems.append(f"{role}: {len(rows)} rows, the main file announces {entry['rows']}")
        strangers = {row.get("run_id") for row in rows} - {run_id}
        if strangers:
            problems.append(f"{role}: rows of another run ({', '.join(map(str, strangers))})")
    return problems
