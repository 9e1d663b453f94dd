"""Start and stop the simulated API in its own process, and read its ``/_stats``.

The harness never imports the simulator: it runs ``python -m customer_sync.simulated_api`` so the
server's event loop and the contenders never share a process (or a GIL).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from .procs import child_env

__all__ = [
    "DATA_NOW",
    "ServerStats",
    "SimSpec",
    "SimulatorError",
    "SimulatorProcess",
    "simulator_missing",
]

DEFAULT_MODULE = "customer_sync.simulated_api"
#: The moment the generated data is relative to: fixed, so every run serves the same bytes.
DATA_NOW = datetime.fromisoformat("2026-01-15T12:00:00+00:00")


class SimulatorError(RuntimeError):
    """The simulator did not start, or its stats could not be read."""


@dataclass(frozen=True, slots=True)
class SimSpec:
    """How one simulator process is configured (``python -m customer_sync.simulated_api``)."""

    customers: int
    max_per_page: int
    seed: int = 7
    fault_rate: float = 0.0
    rate_limit: float = 0.0  # requests/s; 0 means no server rate limit
    burst: int = 10
    latency_ms: float = 0.0
    latency_jitter: float = 0.0  # ±fraction of latency_ms
    fault_kinds: str = "5xx"
    rate_limit_headers: str = "x"  # x, ietf, structured, none (429s with only Retry-After)
    now: datetime = DATA_NOW
    drift: str = "none"  # none, insert, delete: rows change while clients page
    drift_max_events: int | None = None

    def argv(self) -> list[str]:
        args = [
            "--customers",
            str(self.customers),
            "--seed",
            str(self.seed),
            "--now",
            self.now.isoformat(),
            "--max-per-page",
            str(self.max_per_page),
            "--fault-rate",
            str(self.fault_rate),
            "--fault-kinds",
            self.fault_kinds,
            "--latency-ms",
            str(self.latency_ms),
            "--latency-jitter",
            str(self.latency_jitter),
            "--rate-limit",
            str(self.rate_limit),
            "--burst",
            str(self.burst),
            "--rate-limit-headers",
            self.rate_limit_headers,
        ]
        if self.drift != "none":
            args += ["--drift", self.drift]
            if self.drift_max_events is not None:
                args += ["--drift-max-events", str(self.drift_max_events)]
        return args


@dataclass(frozen=True, slots=True)
class ServerStats:
    """The counters the harness reads from ``GET /api/_stats``."""

    requests: int
    rate_limited: int  # every 429 answer, from the token bucket or injected
    faults: int  # injected faults of any kind
    max_in_flight: int  # the most requests the server was answering at once
    timeline: tuple[tuple[int, int], ...] = ()  # per second: (let through, refused 429)

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> ServerStats:
        by_status = {str(k): int(v) for k, v in (payload.get("by_status") or {}).items()}
        faults = payload.get("faults_total", payload.get("faults", 0))
        if isinstance(faults, Mapping):
            faults = sum(int(v) for v in faults.values())
        return cls(
            requests=int(payload.get("requests", sum(by_status.values()))),
            rate_limited=by_status.get("429", int(payload.get("rate_limited", 0))),
            faults=int(faults),
            max_in_flight=int(payload.get("max_in_flight", 0)),
            timeline=tuple(
                (int(v[0]), int(v[1]))
                for _, v in sorted(
                    (payload.get("timeline") or {}).items(), key=lambda kv: int(kv[0])
                )
            ),
        )

    def __sub__(self, before: ServerStats) -> ServerStats:
        """What happened between ``before`` and this snapshot (``max_in_flight``: so far)."""
        return ServerStats(
            requests=self.requests - before.requests,
            rate_limited=self.rate_limited - before.rate_limited,
            faults=self.faults - before.faults,
            max_in_flight=self.max_in_flight,
            timeline=self.timeline,
        )


def simulator_missing(module: str = DEFAULT_MODULE) -> str | None:
    """``None`` when ``python -m module`` can run, else why not."""
    try:
        found = importlib.util.find_spec(f"{module}.__main__") is not None
    except ImportError as exc:
        return f"simulator not available ({exc})"
    return None if found else f"simulator not available (no {module}.__main__)"


class SimulatorProcess:
    """``with SimulatorProcess(spec, repo_root) as sim:`` gives a live ``sim.base_url``."""

    def __init__(
        self,
        spec: SimSpec,
        repo_root: Path,
        *,
        module: str = DEFAULT_MODULE,
        startup_timeout: float = 60.0,
    ) -> None:
        self.spec = spec
        self._repo_root = repo_root
        self._module = module
        self._startup_timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._tmp = tempfile.TemporaryDirectory(prefix="bench-sim-")
        self._http = httpx.Client(timeout=30.0)
        self.base_url = ""

    def __enter__(self) -> SimulatorProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        port_file = Path(self._tmp.name) / "port"
        log_path = Path(self._tmp.name) / "simulator.log"
        argv = [
            sys.executable,
            "-m",
            self._module,
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--port-file",
            str(port_file),
            *self.spec.argv(),
        ]
        with log_path.open("wb") as log:
            self._proc = subprocess.Popen(
                argv,
                cwd=self._repo_root,
                env=child_env(self._repo_root),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise SimulatorError(f"simulator exited: {self._log_tail(log_path)}")
            port = port_file.read_text().strip() if port_file.exists() else ""
            if port.isdigit():
                self.base_url = f"http://127.0.0.1:{port}/api"
                try:
                    self.stats()
                except (httpx.HTTPError, SimulatorError):
                    pass
                else:
                    return
            time.sleep(0.05)
        self.stop()
        raise SimulatorError(f"simulator did not start in {self._startup_timeout:.0f} s")

    def stats(self) -> ServerStats:
        response = self._http.get(f"{self.base_url}/_stats")
        if response.status_code != 200:
            raise SimulatorError(f"/_stats answered {response.status_code}")
        return ServerStats.from_json(response.json())

    def stop(self) -> None:
        self._http.close()
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None
        self._tmp.cleanup()

    @staticmethod
    def _log_tail(path: Path) -> str:
        try:
            return path.read_text(errors="replace").strip()[-400:]
        except OSError:
            return "(no log)"
