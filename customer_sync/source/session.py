"""The one ``httpx.AsyncClient`` (one connection pool) a sync runs on.

* Timeouts (connect, read, pool) and TLS verification come from the settings.
* Keep-alive with a pool bounded by ``concurrency``.
* ``User-Agent`` names the pipeline and its version.
* ``x-api-key`` is attached by a request hook, and **only** to requests for the API's own
  origin (scheme, host and port). httpx re-runs request hooks on every redirect hop but
  copies custom headers to the next hop, so the hook also removes the key from a request
  that a redirect sent to another origin.
* Proxies and certificates are not read from the environment (``trust_env=False``):
  configuration is built once at the entry point.
"""

from __future__ import annotations

import httpx
from pydantic import SecretStr

from .settings import ClientSettings

__all__ = ["API_KEY_HEADER", "ApiKeyHook", "build_http_client", "origin_of"]

API_KEY_HEADER = "x-api-key"


def origin_of(url: httpx.URL) -> tuple[str, str, int | None]:
    """``(scheme, host, port)`` with the scheme's default port made explicit."""
    default = {"http": 80, "https": 443}.get(url.scheme)
    return (url.scheme, url.host, url.port or default)


class ApiKeyHook:
    """Adds the API key to same-origin requests and strips it from every other one."""

    __slots__ = ("_key", "_origin")

    def __init__(self, api_key: SecretStr | None, base_url: httpx.URL) -> None:
        self._key = api_key
        self._origin = origin_of(base_url)

    def __repr__(self) -> str:
        return f"ApiKeyHook(origin={self._origin!r}, key={'***' if self._key else None})"

    async def __call__(self, request: httpx.Request) -> None:
        if self._key is not None and origin_of(request.url) == self._origin:
            # The one place the key leaves its SecretStr.
            request.headers[API_KEY_HEADER] = self._key.get_secret_value()
        else:
            request.headers.pop(API_KEY_HEADER, None)


def build_http_client(
    *,
    base_url: str,
    api_key: SecretStr | None,
    settings: ClientSettings,
    transport: httpx.AsyncBaseTransport | None,
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        headers={"User-Agent": settings.user_agent, "Accept": "application/json"},
        timeout=httpx.Timeout(
            connect=settings.connect_timeout,
            read=settings.read_timeout,
            write=settings.read_timeout,
            pool=settings.pool_timeout,
        ),
        limits=httpx.Limits(
            max_connections=settings.concurrency,
            max_keepalive_connections=settings.concurrency,
        ),
        verify=settings.verify_tls,
        transport=transport,
        follow_redirects=settings.max_redirects > 0,
        max_redirects=settings.max_redirects,
        event_hooks={"request": [ApiKeyHook(api_key, httpx.URL(base_url))]},
        trust_env=False,
    )
