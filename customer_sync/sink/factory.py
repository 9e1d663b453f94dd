"""Build the sink of each destination. The pipeline never names a concrete class.

Database drivers are imported only for the destinations a run uses, so a JSON-only run
loads neither DuckDB nor psycopg.
"""

from __future__ import annotations

from ..destinations import Destination
from ..errors import ConfigError
from .base import Sink

__all__ = ["open_sink"]


def open_sink(destination: Destination) -> Sink:
    """The sink writing to ``destination``. A missing driver is a configuration error."""
    try:
        return _open(destination)
    except ImportError as exc:
        extra = "postgres" if destination.kind == "postgresql" else destination.kind
        raise ConfigError(
            f"{destination.kind} destinations need the {exc.name or 'driver'} package",
            hint=f"pip install -r requirements.txt (or the [{extra}] extra)",
        ) from exc


def _open(destination: Destination) -> Sink:
    if destination.kind == "json":
        from .json_file import JsonFileSink

        assert destination.path is not None
        return JsonFileSink(destination.path)
    if destination.kind == "duckdb":
        from .duckdb_sink import DuckDBSink

        assert destination.path is not None
        return DuckDBSink(destination.path)
    if destination.kind == "parquet":
        from .parquet_sink import ParquetSink

        assert destination.path is not None
        return ParquetSink(destination.path)
    from .postgres_sink import PostgresSink

    return PostgresSink(destination)
