"""ETags and ``If-None-Match``: a page that has not changed is answered with 304."""

from __future__ import annotations

import hashlib

__all__ = ["etag_for", "if_none_match"]


def etag_for(body: bytes) -> str:
    """A strong ETag for a response body (quoted, as the header carries it)."""
    return '"' + hashlib.blake2b(body, digest_size=10).hexdigest() + '"'


def if_none_match(header: str | None, etag: str) -> bool:
    """True when ``If-None-Match`` names ``etag`` (weak comparison, lists and ``*``)."""
    if not header:
        return False
    wanted = etag.removeprefix("W/")
    for candidate in header.split(","):
        tag = candidate.strip()
        if tag == "*" or tag.removeprefix("W/") == wanted:
            return True
    return False
