"""``python -m customer_sync``: the same as the ``customer-sync`` console script."""

from __future__ import annotations

from .cli import run

if __name__ == "__main__":
    run()
