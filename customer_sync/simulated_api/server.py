"""Run the simulated API under uvicorn: in a background thread, or in the foreground.

:class:`SimulatedServer` binds its own socket first (so port 0 is resolved and a busy
port fails in the caller's thread), then runs ``uvicorn.Server`` on it. Start-up waits
on an event set once uvicorn is accepting, never on a fixed sleep.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

import uvicorn

from ..errors import ConfigError
from .app import SimulatorApp, create_app
from .config import SimulatorConfig
from .dataset import Dataset
from .simulator import Simulator
from .stats import SimulatorStats

__all__ = ["SimulatedServer"]


class _Server(uvicorn.Server):
    """uvicorn's server, reporting when it has started."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self._on_started()


class SimulatedServer:
    """The simulated API on a real socket (``127.0.0.1``, port 0 by default).

    ``ssl_certfile`` (and ``ssl_keyfile``, unless the key is in the same PEM file) serve
    HTTPS instead, e.g. with a throwaway ``trustme`` certificate in TLS tests.

    Use it as a context manager; ``base_url`` is ready once ``__enter__`` returns::

        with SimulatedServer(SimulatorConfig(fault_rate=0)) as server:
            httpx.get(f"{server.base_url}/users")
    """

    def __init__(
        self,
        config: SimulatorConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout: float = 10.0,
        access_log: bool = False,
        log_level: str | None = None,
        ssl_certfile: str | None = None,
        ssl_keyfile: str | None = None,
    ) -> None:
        self.config = config or SimulatorConfig()
        self.host = host
        self.app: SimulatorApp = create_app(self.config)
        self._requested_port = port
        self._startup_timeout = startup_timeout
        self._access_log = access_log
        self._log_level = log_level
        self._ssl_certfile = ssl_certfile
        self._ssl_keyfile = ssl_keyfile
        self._socket: socket.socket | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    # -- what callers read ----------------------------------------------------------
    @property
    def simulator(self) -> Simulator:
        simulator: Simulator = self.app.state.simulator
        return simulator

    @property
    def stats(self) -> SimulatorStats:
        return self.simulator.stats

    @property
    def dataset(self) -> Dataset:
        return self.simulator.dataset

    @property
    def port(self) -> int:
        if self._socket is None:
            raise RuntimeError("the simulated API is not bound yet")
        port: int = self._socket.getsockname()[1]
        return port

    @property
    def url(self) -> str:
        """``http://host:port`` (``https`` when serving TLS) with no path."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "https" if self._ssl_certfile else "http"
        return f"{scheme}://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The API root, e.g. ``http://127.0.0.1:54321/api``."""
        return self.url + self.config.base_path

    # -- lifecycle ------------------------------------------------------------------
    def bind(self) -> socket.socket:
        """Bind and listen (idempotent). Raises ConfigError when the port is taken."""
        if self._socket is None:
            family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets
            # whose proto says TCP, and without it Nagle + delayed ACK add 40 ms a request.
            sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((self.host, self._requested_port))
                sock.listen(2048)
            except OSError as exc:
                sock.close()
                raise ConfigError(
                    f"cannot listen on {self.host}:{self._requested_port}: {exc.strerror}",
                    hint="choose another --port, or 0 for any free port",
                ) from exc
            self._socket = sock
        return self._socket

    def _uvicorn(self, on_started: Callable[[], None]) -> _Server:
        options: dict[str, Any] = {
            "host": self.host,
            "port": self._requested_port,
            "http": "h11",
            "loop": "asyncio",
            "ws": "none",
            "lifespan": "off",
            "interface": "asgi3",
            "proxy_headers": False,
            "server_header": False,
            "date_header": False,  # the app sends Date from its injectable wall clock
            "access_log": self._access_log,
            "log_config": None,
            "log_level": self._log_level,
            "timeout_graceful_shutdown": 2,
        }
        if self._ssl_certfile:
            options["ssl_certfile"] = self._ssl_certfile
            options["ssl_keyfile"] = self._ssl_keyfile
        return _Server(uvicorn.Config(self.app, **options), on_started)

    def start(self) -> SimulatedServer:
        """Start serving in a daemon thread; return once the server accepts requests."""
        if self._thread is not None:
            return self
        sock = self.bind()
        self._server = self._uvicorn(self._ready.set)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name=f"simulated-api-{self.port}",
            daemon=True,
        )
        self._thread.start()
        waited = 0.0
        while not self._ready.wait(0.05):
            waited += 0.05
            if not self._thread.is_alive() or waited >= self._startup_timeout:
                self.stop()
                raise RuntimeError("the simulated API did not start")
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread to end (idempotent)."""
        self.simulator.close()
        server, thread = self._server, self._thread
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout=10.0)
            if thread.is_alive() and server is not None:
                server.force_exit = True
                thread.join(timeout=5.0)
        if self._socket is not None:
            self._socket.close()
        self._thread = None
        self._server = None

    def serve_forever(self, on_started: Callable[[], None] | None = None) -> None:
        """Serve in the calling thread until SIGINT/SIGTERM (the standalone CLI)."""
        sock = self.bind()
        try:
            self._uvicorn(on_started or (lambda: None)).run(sockets=[sock])
        finally:
            self.simulator.close()
            sock.close()

    def __enter__(self) -> SimulatedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
