"""One atomic writer and one JSON codec (issue 10): no other module of the pipeline renames
files into place or creates temp files, and no module that reads or stores raw records or
log lines imports a JSON library of its own."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import customer_sync

PACKAGE = Path(customer_sync.__file__).parent
#: The simulator is the third party: it imports nothing of the pipeline, so it keeps its own.
THIRD_PARTY = PACKAGE / "simulated_api"

FILE_WRITES = re.compile(r"os\.replace|os\.rename|mkstemp|NamedTemporaryFile")
JSON_IMPORTS = re.compile(r"^\s*(import (orjson|json)\b|from (orjson|json) import)", re.M)


#: Where raw records and log lines are read or written: source, sink, checkpoint, logs.
RAW_RECORD_MODULES = ("source", "sink", "checkpoint.py", "logs.py", "pipeline.py", "cli.py")


def modules() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if THIRD_PARTY not in p.parents]


def raw_record_modules() -> list[Path]:
    return [p for p in modules() if p.relative_to(PACKAGE).parts[0] in RAW_RECORD_MODULES]


def test_only_atomic_py_creates_temp_files_or_renames_them_into_place() -> None:
    """Sink, checkpoint and ETag cache all write through customer_sync/atomic.py."""
    offenders = [p.relative_to(PACKAGE) for p in modules()
                 if p.name != "atomic.py" and FILE_WRITES.search(p.read_text())]
    assert offenders == []


def test_only_jsoncodec_py_imports_a_json_library() -> None:
    """Bodies, pages, cache entries, side files and logs go through customer_sync/jsoncodec.py."""
    offenders = [p.relative_to(PACKAGE) for p in raw_record_modules()
                 if JSON_IMPORTS.search(p.read_text())]
    assert len(raw_record_modules()) > 15
    assert offenders == []


def test_metadata_with_a_huge_integer_and_nan_stays_strict_and_exact(tmp_path: Path) -> None:
    """The indented encoder falls back to the standard library: 2**70 exact, NaN null."""
    import json

    from customer_sync import jsoncodec

    text = jsoncodec.dumps_indented({"big": 2**70 + 1, "nan": float("nan"), 1: [1.5]})
    assert json.loads(text, parse_constant=lambda c: pytest.fail(c)) == {
        "big": 2**70 + 1, "nan": None, "1": [1.5]
    }
