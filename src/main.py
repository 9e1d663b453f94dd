"""Entry point: ``python -m src.main``. Thin on purpose; see :mod:`src.cli`."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
