"""Keep secrets out of logs, errors and outputs.

``mask_url`` hides credentials in a URL (userinfo and secret-looking query parameters);
``SecretFilter`` is a last line of defence that scrubs known secret values from every
log record, whatever code produced it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["MASK", "SecretFilter", "mask_url", "scrub"]

MASK = "***"
_SECRET_PARAMS = ("key", "token", "secret", "password", "passwd", "auth", "signature", "sig")


def _is_secret_param(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_PARAMS)


def mask_url(url: str) -> str:
    """``https://u:p@host/api?api_key=abc&page=2`` -> ``https://***@host/api?api_key=***&page=2``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    netloc = parts.netloc
    if "@" in netloc:
        netloc = MASK + "@" + netloc.rsplit("@", 1)[1]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, MASK if _is_secret_param(k) else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each non-empty secret in ``text`` with the mask."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


class SecretFilter(logging.Filter):
    """Scrubs known secret values from log messages and their arguments."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        if self._secrets:
            record.msg = scrub(record.getMessage(), self._secrets)
            record.args = None
        return True
