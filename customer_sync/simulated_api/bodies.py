"""Hostile answers to list requests: oversized, compressed and slow bodies.

* **Oversized**: the page's JSON followed by ``body_padding_bytes`` of whitespace (still
  valid JSON), streamed in 1 MiB pieces so the server never holds it whole.
* **Compressed**: ``Content-Encoding: gzip``, compressed as it streams. With padding,
  this is a "bomb": a 1 GiB body costs about 1 MiB on the wire.
* **Slow**: the body trickles out in small pieces over ``slow_body_seconds`` (through
  the simulator's injectable ``sleep``).
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Final

from starlette.responses import StreamingResponse

__all__ = ["hostile_response"]

_PIECE: Final = 1 << 20
_SLOW_PIECES: Final = 64


async def _pieces(body: bytes, padding: int) -> AsyncIterator[bytes]:
    yield body
    spaces = b" " * min(padding, _PIECE)
    left = padding
    while left > 0:
        piece = spaces if left >= len(spaces) else spaces[:left]
        left -= len(piece)
        yield piece


async def _gzipped(pieces: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    packer = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: a gzip stream
    async for piece in pieces:
        packed = packer.compress(piece)
        if packed:
            yield packed
    yield packer.flush()


async def _trickled(
    pieces: AsyncIterator[bytes], seconds: float, sleep: Callable[[float], Awaitable[None]]
) -> AsyncIterator[bytes]:
    data = b"".join([piece async for piece in pieces])
    step = max(1, -(-len(data) // _SLOW_PIECES))
    count = -(-len(data) // step)
    for start in range(0, len(data), step):
        await sleep(seconds / count)
        yield data[start : start + step]


def hostile_response(
    body: bytes,
    headers: dict[str, str],
    *,
    padding: int,
    gzip: bool,
    slow_seconds: float,
    sleep: Callable[[float], Awaitable[None]],
) -> StreamingResponse:
    """``body`` as a streamed answer with the hostile traits asked for."""
    stream = _pieces(body, padding)
    if slow_seconds > 0:
        stream = _trickled(stream, slow_seconds, sleep)
    if gzip:
        stream = _gzipped(stream)
        headers = {**headers, "content-encoding": "gzip"}
    return StreamingResponse(stream, headers=headers, media_type="application/json")
