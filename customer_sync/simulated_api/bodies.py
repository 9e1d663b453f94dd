"""Hostile answers to list requests: oversized, compressed and slow bodies.

* **Oversized**: the page's JSON followed by ``body_padding_bytes`` of whitespace (still
  valid JSON), streamed in 1 MiB pieces so the server never holds it whole.
* **Compressed**: ``Content-Encoding: gzip``, compressed as it streams. With padding,
  this is a "bomb": a 1 GiB body costs about 1 MiB on the wire.
* **Slow**: the body trickles out in small pieces over ``slow_body_seconds`` (through
  the simulator's injectable ``sleep``).
* **Slow headers** (:class:`SlowHeaders`): the status line and each header line go out
  one at a time over ``slow_headers_seconds``, then the body, written straight to the
  connection's transport (ASGI sends all headers in one message). Each line comes well
  within a per-read timeout; only a deadline on the whole answer stops it. Without a
  socket (in-process transports) the answer comes whole after that many seconds.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Final

from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from .responses import RAW_RECEIVE, transport_of, wait_for_disconnect

__all__ = ["SlowHeaders", "hostile_response"]

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


class SlowHeaders(Response):
    """A 200 whose status and header lines trickle out over ``seconds``, then the body."""

    def __init__(
        self,
        body: bytes,
        headers: dict[str, str],
        *,
        seconds: float,
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        super().__init__(body, headers=headers, media_type="application/json")
        self.seconds = seconds
        self.sleep = sleep

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        transport = transport_of(scope)
        if transport is None:  # no socket to trickle on: the wait, then the whole answer
            await self.sleep(self.seconds)
            await super().__call__(scope, receive, send)
            return
        lines = [b"HTTP/1.1 200 OK"]
        lines += [name + b": " + value for name, value in self.raw_headers]
        lines.append(b"connection: close")
        gone = asyncio.ensure_future(wait_for_disconnect(scope.get(RAW_RECEIVE, receive)))
        try:
            for line in lines:
                transport.write(line + b"\r\n")
                pause = asyncio.ensure_future(self.sleep(self.seconds / len(lines)))
                await asyncio.wait([pause, gone], return_when=asyncio.FIRST_COMPLETED)
                if gone.done():  # the client gave up: stop at once
                    pause.cancel()
                    return
            transport.write(b"\r\n" + self.body)
            transport.close()
            await gone
        finally:
            gone.cancel()
