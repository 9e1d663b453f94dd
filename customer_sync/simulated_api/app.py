"""The simulated customer API as a Starlette app (reqres.in-compatible).

Routes, under ``config.base_path`` (``/api`` by default):

* ``GET /users?page=N&per_page=M``: one page of raw customer records.
* ``GET /users/{id}``: one record as ``{"data": ...}``, or 404 with ``{}``.
* ``GET /_stats``: :meth:`SimulatorStats.snapshot` as JSON (never faulted or limited).
* ``POST /_admin/changes``: change the data (``{"update", "insert", "delete", "tie",
  "ids", "at"}``, see :mod:`.changes`); answers what changed, by id. Never faulted.

``GET /users?...&updated_since=ISO`` (the name is ``config.incremental_param``) returns
only records changed since then, in ``(updated_at, id)`` order. Every API answer carries
a ``Date`` header from the injectable wall clock, which clients use as the server's time.

Every API answer carries rate-limit headers (``X-RateLimit-*``, the IETF draft's forms,
or none: ``config.rate_limit_headers``); 200s carry an ``ETag`` (hostile bodies aside). A request
goes through: token bucket (429) -> latency -> API key (401) -> parameters (400) ->
page drift -> fault injection -> the answer (or 304 when ``If-None-Match`` matches).
"""

from __future__ import annotations

from collections.abc import Callable
from email.utils import formatdate
from typing import Any, Final

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from .bodies import SlowHeaders, hostile_response
from .changes import ChangeError, cursor_micros
from .conditional import etag_for, if_none_match
from .config import SimulatorConfig
from .faults import Fault, FaultKey
from .paging import PagingError, page_start, parse_paging
from .randomness import stable_key
from .responses import RAW_RECEIVE, RAW_SEND, ConnectionReset, NoResponse, wait_for_disconnect
from .simulator import Simulator

__all__ = ["SimulatorApp", "create_app"]

#: Renders a successful answer: ``(body, records on it)``, or ``None`` for 404.
Render = Callable[[], tuple[bytes, int] | None]

_JSON: Final = "application/json"
_HTML: Final = "text/html"
_PHRASES: Final = {
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_INVALID_BODIES: Final = (
    b"<html><body><h1>Down for maintenance</h1></body></html>",
    b'{"page": 1, "data": [{"id": 1,}]}',
    b"",
    b"\x1f\x8b\x08\x00\x00\x00\x00\x00",
)


def _json(status: int, payload: Any, headers: dict[str, str]) -> Response:
    return Response(orjson.dumps(payload), status_code=status, headers=headers, media_type=_JSON)


def _error_page(status: int, *, html: bool, headers: dict[str, str]) -> Response:
    phrase = _PHRASES.get(status, "Server Error")
    if html:
        body = (
            f"<html><head><title>{status} {phrase}</title></head><body><center>"
            f"<h1>{status} {phrase}</h1></center><hr><center>nginx</center></body></html>"
        )
        return Response(body, status_code=status, headers=headers, media_type=_HTML)
    return _json(status, {"error": phrase, "status": status}, headers)


class SimulatorApp(Starlette):
    """A Starlette app that keeps the server's own ``send``/``receive`` in the scope.

    Resets need the connection's transport, which only the server's ``send`` leads to;
    Starlette's middleware wraps ``send`` before any route sees it. This layer also
    counts requests, in-flight requests and answered statuses for the stats.
    """

    stats_path: str = "/api/_stats"
    admin_path: str = "/api/_admin/changes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in (self.stats_path, self.admin_path):
            await super().__call__(scope, receive, send)
            return
        stats = self.state.simulator.stats
        scope[RAW_SEND] = send
        scope[RAW_RECEIVE] = receive
        status: int | None = None
        complete = False

        async def counting_send(message: Message) -> None:
            nonlocal status, complete
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                complete = True
            await send(message)

        stats.request_started()
        answered = False
        try:
            await super().__call__(scope, receive, counting_send)
            answered = complete
        finally:
            # An exception (a reset without a socket) means no answer, even if Starlette's
            # error middleware managed to send a 500 on the way out.
            stats.request_finished(status if answered else None)


def create_app(config: SimulatorConfig | None = None) -> SimulatorApp:
    """The simulated API for ``config``; ``app.state.simulator`` exposes its state."""
    config = config or SimulatorConfig()
    sim = Simulator(config)
    base = config.base_path

    async def throttle_auth_delay(request: Request) -> tuple[dict[str, str], Response | None]:
        decision = sim.bucket.acquire()
        headers = decision.headers(config.rate_limit_headers)
        headers["date"] = formatdate(sim.wall_clock(), usegmt=True)
        await sim.delay()
        if not decision.allowed:
            sim.stats.rate_limited()
            retry = sim.throttled_retry_after(decision.retry_after, decision.wait)
            if retry is not None:
                headers["retry-after"] = retry
            return headers, _json(429, {"error": "Too Many Requests"}, headers)
        if not sim.authorized(request.headers.get("x-api-key")):
            return headers, _json(401, {"error": "Missing API key"}, headers)
        return headers, None

    async def answer(
        request: Request,
        key: FaultKey,
        headers: dict[str, str],
        render: Render,
        hostile: bool = False,
    ) -> Response:
        """Inject a fault for ``key`` or answer with ``render()`` (body, record count)."""
        fault = sim.faults.decide(key)
        if fault is not None:
            sim.stats.fault_injected(fault.kind, fault.label)
            if fault.kind == "stall":
                receive = request.scope.get(RAW_RECEIVE, request.receive)
                if not await sim.stall(wait_for_disconnect(receive)):
                    return NoResponse()
            else:
                return _fault_response(fault, headers, render)
        rendered = render()
        if rendered is None:
            return _json(404, {}, headers)
        body, count = rendered
        if hostile and config.slow_headers_seconds > 0:
            sim.stats.records_served(count)
            return SlowHeaders(body, headers, seconds=config.slow_headers_seconds, sleep=sim.sleep)
        if hostile:
            sim.stats.records_served(count)
            return hostile_response(
                body,
                headers,
                padding=config.body_padding_bytes,
                gzip=config.gzip_bodies,
                slow_seconds=config.slow_body_seconds,
                sleep=sim.sleep,
            )
        etag = etag_for(body)
        headers["etag"] = etag
        if if_none_match(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
        sim.stats.records_served(count)
        return Response(body, headers=headers, media_type=_JSON)

    def _fault_response(fault: Fault, headers: dict[str, str], render: Render) -> Response:
        if fault.kind == "5xx":
            assert fault.status is not None
            return _error_page(fault.status, html=fault.html, headers=headers)
        if fault.kind == "429":
            retry = sim.retry_after(sim.config.retry_after_seconds, http_date=fault.http_date)
            headers["retry-after"] = retry
            return _json(429, {"error": "Too Many Requests"}, headers)
        if fault.kind == "reset":
            return ConnectionReset()
        if fault.kind == "invalid_json":
            body = _INVALID_BODIES[fault.variant % len(_INVALID_BODIES)]
            return Response(body, headers=headers, media_type=_JSON)
        rendered = render()
        body = rendered[0] if rendered is not None else b"{}"
        if fault.kind == "reset_mid_body":
            return ConnectionReset(body=body, partial=fault.cut)
        # truncated: a complete HTTP message whose JSON stops short
        cut = min(len(body) - 1, max(1, int(len(body) * fault.cut)))
        return Response(body[:cut], headers=headers, media_type=_JSON)

    async def list_users(request: Request) -> Response:
        headers, refused = await throttle_auth_delay(request)
        if refused is not None:
            return refused
        try:
            page, per_page = parse_paging(
                request.query_params,
                default_per_page=config.default_per_page,
                max_per_page=config.max_per_page,
                reject_over_max=config.over_max_per_page == "reject",
            )
        except PagingError as exc:
            return _json(400, {"error": str(exc)}, headers)
        since_text = request.query_params.get(config.incremental_param)
        since_us = None
        if since_text is not None and not config.ignore_incremental_param:
            since_us = cursor_micros(since_text)
            if since_us is None:
                message = f"{config.incremental_param} must be an ISO-8601 time"
                return _json(400, {"error": message}, headers)
        sim.stats.page_requested(page)
        sim.on_list_request()
        if sim.view.on_page_request(page_start(page, per_page)) is not None:
            sim.stats.drift_event()
        return await answer(
            request,
            (1, page, per_page),
            headers,
            lambda: sim.page_body(page, per_page, since_us),
            hostile=sim.hostile(page, per_page),
        )

    async def get_user(request: Request) -> Response:
        headers, refused = await throttle_auth_delay(request)
        if refused is not None:
            return refused
        raw_id: str = request.path_params["user_id"]
        text = raw_id.strip()
        user_id = int(text) if text.isdecimal() and text.isascii() and len(text) < 19 else None

        def render() -> tuple[bytes, int] | None:
            body = None if user_id is None else sim.user_body(user_id)
            return None if body is None else (body, 1)

        key = (2, user_id) if user_id is not None else (3, stable_key(raw_id))
        return await answer(request, key, headers, render)

    async def stats(request: Request) -> Response:
        return Response(
            orjson.dumps(sim.stats.snapshot(), option=orjson.OPT_NON_STR_KEYS), media_type=_JSON
        )

    async def change(request: Request) -> Response:
        try:
            spec = orjson.loads(await request.body() or b"{}")
            if not isinstance(spec, dict):
                raise ChangeError("the body must be a JSON object")
            unknown = sorted(set(spec) - {"update", "insert", "delete", "tie", "ids", "at"})
            if unknown:
                raise ChangeError(f"unknown fields {unknown}")
            counts = {k: int(spec.get(k, 0)) for k in ("update", "insert", "delete", "tie")}
            ids = [int(i) for i in spec.get("ids", [])]
            at = spec.get("at")
            result = sim.live.apply(
                **counts, ids=ids, at=None if at is None else float(at)
            )
        except (ChangeError, ValueError, TypeError) as exc:
            return _json(400, {"error": str(exc)}, {})
        sim.live.prepare()
        return _json(200, result.as_dict(), {})

    app = SimulatorApp(
        routes=[
            Route(f"{base}/users", list_users, methods=["GET"]),
            Route(f"{base}/users/{{user_id}}", get_user, methods=["GET"]),
            Route(f"{base}/_stats", stats, methods=["GET"]),
            Route(f"{base}/_admin/changes", change, methods=["POST"]),
        ]
    )
    app.stats_path = f"{base}/_stats"
    app.admin_path = f"{base}/_admin/changes"
    app.state.simulator = sim
    return app
