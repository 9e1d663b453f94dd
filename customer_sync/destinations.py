"""Destination URLs: where a run writes, parsed once from ``--destination``.

    json:PATH                                   today's JSON file (``--output`` is its shorthand)
    duckdb:PATH                                 an embedded DuckDB database file, created if absent
    parquet:DIR                                 a folder of Parquet files (zstd)
    postgresql://user:password@host:port/db     a PostgreSQL server (also ``postgres://``),
        ?schema=NAME                            optional, default ``customer_sync``

Pure parsing, no I/O and no heavy imports (``--help`` and configuration errors load neither
DuckDB nor psycopg). Every message shows the URL masked: a password never reaches an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit

from .redaction import mask_url

__all__ = [
    "DEFAULT_PG_SCHEMA",
    "Destination",
    "DestinationError",
    "DestinationKind",
    "parse_destination",
]

DestinationKind = Literal["json", "duckdb", "parquet", "postgresql"]

DEFAULT_PG_SCHEMA = "customer_sync"

_FILE_SCHEMES: tuple[DestinationKind, ...] = ("json", "duckdb", "parquet")
_PG_SCHEMES = ("postgresql", "postgres")
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_SCHEMES_HINT = "use json:PATH, duckdb:PATH, parquet:DIR or postgresql://user@host/db"


class DestinationError(ValueError):
    """A destination URL that cannot be used. The message already has the URL masked."""


@dataclass(frozen=True, slots=True)
class Destination:
    """One parsed destination. ``url`` is what the user wrote (may hold a password);
    ``display`` is safe to print and log."""

    kind: DestinationKind
    url: str
    path: Path | None = None
    schema: str = DEFAULT_PG_SCHEMA

    @property
    def display(self) -> str:
        return mask_url(self.url) if self.kind == "postgresql" else self.url

    def __repr__(self) -> str:  # never the password, even in a debugger or a traceback
        return f"Destination({self.display!r})"

    @property
    def conninfo(self) -> str:
        """The PostgreSQL connection URL without our own ``schema`` parameter."""
        parts = urlsplit(self.url)
        query = urlencode(
            [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "schema"]
        )
        return parts._replace(scheme="postgresql", query=query).geturl()


def parse_destination(url: str) -> Destination:
    """Parse one destination URL, or raise :class:`DestinationError` with a masked message."""
    text = url.strip()
    scheme, sep, rest = text.partition(":")
    scheme = scheme.lower()
    if scheme in _PG_SCHEMES:
        return _postgres(text)
    if not sep or not scheme:
        raise DestinationError(f"{mask_url(text)!r} has no scheme ({_SCHEMES_HINT})")
    if scheme not in _FILE_SCHEMES:
        raise DestinationError(
            f"unknown destination scheme {scheme!r} in {mask_url(text)!r} ({_SCHEMES_HINT})"
        )
    kind: DestinationKind = scheme
    if rest.startswith("//"):  # json:///abs/path or duckdb://rel: accept the URL form too
        rest = rest[2:]
    if not rest or Path(rest).name in ("", ".", ".."):
        what = "a folder" if kind == "parquet" else "a file"
        raise DestinationError(f"{text!r} must name {what}, e.g. {kind}:out/customers")
    return Destination(kind, text, path=Path(rest))


def _postgres(text: str) -> Destination:
    shown = mask_url(text)
    try:
        parts = urlsplit(text)
        port = parts.port  # raises ValueError on a bad port
    except ValueError:
        raise DestinationError(f"{shown!r} is not a valid PostgreSQL URL") from None
    del port
    if not parts.hostname:
        raise DestinationError(f"{shown!r} has no host (postgresql://user:password@host:port/db)")
    if not parts.path.strip("/"):
        raise DestinationError(f"{shown!r} names no database (postgresql://…@host:port/DBNAME)")
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    schema = params.get("schema", DEFAULT_PG_SCHEMA)
    if not _IDENTIFIER.match(schema):
        raise DestinationError(
            f"schema {schema!r} in {shown!r} must be a lower-case SQL identifier"
        )
    return Destination("postgresql", text, schema=schema)
