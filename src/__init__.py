"""The user's entry points: thin modules over the installable :mod:`customer_sync` package.

``python -m src.main``, ``from src.api_client import CustomerAPIClient``,
``from src.data_processor import CustomerDataProcessor``, ``from src.exporter import
DataExporter`` and ``src.models`` keep working; each re-exports the one copy of the code
that lives in ``customer_sync``.
"""

from customer_sync import __version__

__all__ = ["__version__"]
