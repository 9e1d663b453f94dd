"""Customer data sync pipeline.

source (``api_client``) -> transform (``data_processor``) -> sink (``exporter``),
plus the simulated flaky API in ``simulated_api``.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
