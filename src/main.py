"""Entry point: ``python -m src.main``. Thin on purpose; see :mod:`src.cli`."""

from __future__ import annotations

import gc
import sys

from .cli import main

if __name__ == "__main__":
    # What the imports built (~65k objects) lives until exit: keep the collector off it.
    # Otherwise every full collection walks all of it, and interpreter shutdown runs
    # several of those (about 0.15 s of a run's wall time).
    gc.freeze()
    sys.exit(main())
