"""Answers that are not ordinary HTTP responses: connection resets and non-answers.

Under uvicorn (h11 or httptools) the ASGI ``send`` callable is a bound method of the
connection's ``RequestResponseCycle``, whose ``transport`` attribute is the asyncio
transport of the socket. The app stores that original ``send`` in the scope before
Starlette wraps it (:data:`RAW_SEND`), and a reset does::

    sock.setsockopt(SOL_SOCKET, SO_LINGER, struct.pack("ii", 1, 0))  # close sends RST
    transport.abort()                                                  # no FIN, no answer
    ... await receive() until "http.disconnect"                        # uvicorn has noticed

so the client sees ``ECONNRESET`` (httpx raises ``ReadError``) and uvicorn, which marks
the cycle as disconnected, logs nothing and sends no 500 of its own. A mid-body reset
first sends the headers with the full ``Content-Length`` and part of the body.

Without a socket (``httpx.ASGITransport``, Starlette's ``TestClient``) there is nothing
to reset, so the app raises :class:`SimulatedConnectionReset`, a subclass of
``httpx.ReadError``; ``ASGITransport`` re-raises it to the client, which sees the same
exception type as on a real socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from typing import Any

import httpx
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

__all__ = [
    "RAW_RECEIVE",
    "RAW_SEND",
    "ConnectionReset",
    "NoResponse",
    "SimulatedConnectionReset",
    "transport_of",
    "wait_for_disconnect",
]

#: Scope keys under which the app keeps the server's own ``send`` and ``receive``.
RAW_SEND = "simulated_api.raw_send"
RAW_RECEIVE = "simulated_api.raw_receive"

_LINGER_ZERO = struct.pack("ii", 1, 0)


class SimulatedConnectionReset(httpx.ReadError):
    """A reset injected where no socket exists to reset (in-process ASGI transports)."""


def transport_of(scope: Scope) -> asyncio.Transport | None:
    """The asyncio transport of the connection serving ``scope``, when there is one."""
    owner: Any = getattr(scope.get(RAW_SEND), "__self__", None)
    transport = getattr(owner, "transport", None)
    return transport if isinstance(transport, asyncio.Transport) else None


def _reset(transport: asyncio.Transport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):  # the peer is already gone: abort() will do
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
    transport.abort()


async def wait_for_disconnect(receive: Receive) -> None:
    """Return once the server reports that the client has gone."""
    while (await receive())["type"] != "http.disconnect":
        pass


class ConnectionReset(Response):
    """Close the connection without an answer, or after ``partial`` of ``body``.

    With ``body`` set, the headers (with the full ``Content-Length``) and the first
    ``partial`` fraction of the body are sent before the reset.
    """

    def __init__(self, *, body: bytes | None = None, partial: float = 0.5) -> None:
        super().__init__(content=body, media_type="application/json")
        self.mid_body = body is not None
        self.partial = partial

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.mid_body:
            cut = min(len(self.body) - 1, max(1, int(len(self.body) * self.partial)))
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            await send({"type": "http.response.body", "body": self.body[:cut], "more_body": True})
        transport = transport_of(scope)
        if transport is None:
            where = "mid-body" if self.mid_body else "before answering"
            raise SimulatedConnectionReset(f"simulated connection reset ({where})")
        _reset(transport)
        await wait_for_disconnect(scope.get(RAW_RECEIVE, receive))


class NoResponse(Response):
    """Send nothing: the client has already gone (for example after a stall)."""

    def __init__(self) -> None:
        super().__init__()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        return None
