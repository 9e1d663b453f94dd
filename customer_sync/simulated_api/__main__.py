"""Entry point: ``python -m customer_sync.simulated_api --help``."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
