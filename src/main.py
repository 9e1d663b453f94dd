"""Entry point: ``python -m src.main`` (the same as the ``customer-sync`` console script)."""

from __future__ import annotations

from customer_sync.cli import run

if __name__ == "__main__":
    run()
