"""The report worker's side (``python -m customer_sync.report.worker``; see
:mod:`.background`): import what drawing needs, read one pickled job from stdin, write the
page to stdout. An empty stdin (the run ended without a report to draw) exits at once."""

from __future__ import annotations

import pickle
import sys
from collections.abc import Mapping
from typing import Any

__all__ = ["render"]


def render(metadata: Mapping[str, Any], examples: Mapping[str, str]) -> bytes:
    """The page, UTF-8: the same in the worker and in the run's own process."""
    from .page import render_report

    return render_report(metadata, examples).encode("utf-8")


def main() -> int:
    from . import charts, page  # noqa: F401  (imported now, while the run fetches)

    data = sys.stdin.buffer.read()
    if not data:
        return 0
    metadata, examples = pickle.loads(data)  # noqa: S301 (our own parent's pickle)
    sys.stdout.buffer.write(render(metadata, examples))
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
