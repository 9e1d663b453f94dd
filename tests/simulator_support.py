"""Test helpers for the simulated API: fake time, an in-process client, a log spy."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from customer_sync.simulated_api import SimulatedServer, SimulatorConfig, create_app

#: The moment every test dataset is relative to.
NOW = datetime(2026, 3, 14, 15, 9, 26, tzinfo=UTC)
#: A fixed wall clock (epoch seconds) for HTTP-date Retry-After values.
WALL = 1_773_500_000.25


@dataclass
class FakeClock:
    """A monotonic clock that only moves when told to."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Sleeper:
    """An async sleep that records what it was asked for and returns at once."""

    calls: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@dataclass
class GatedSleeper:
    """An async sleep that blocks every caller until ``gate`` is set (concurrency tests)."""

    gate: asyncio.Event = field(default_factory=asyncio.Event)
    waiting: int = 0

    async def __call__(self, seconds: float) -> None:
        self.waiting += 1
        await self.gate.wait()


def wait_idle(server: SimulatedServer, timeout: float = 5.0) -> dict[str, Any]:
    """Poll until the server has no request in flight; return the stats snapshot.

    The client can see a reset before the server thread has finished the request.
    """
    deadline = time.monotonic() + timeout
    snapshot = server.stats.snapshot()
    while snapshot["in_flight"] and time.monotonic() < deadline:
        time.sleep(0.002)
        snapshot = server.stats.snapshot()
    return snapshot


def config(**overrides: Any) -> SimulatorConfig:
    """A quiet config: no faults, fixed ``now``, fixed wall clock, instant sleeps."""
    options: dict[str, Any] = {
        "fault_rate": 0.0,
        "now": NOW,
        "wall_clock": lambda: WALL,
        "sleep": Sleeper(),
    }
    options.update(overrides)
    return SimulatorConfig(**options)


def client_for(app: Any) -> httpx.AsyncClient:
    """An httpx client talking to ``app`` in process."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim.test")


async def fetch_all(app: Any, paths: Iterable[str], **kwargs: Any) -> list[httpx.Response]:
    """GET each path in order on one client."""
    async with client_for(app) as client:
        return [await client.get(path, **kwargs) for path in paths]


async def fetch(app: Any, path: str, **kwargs: Any) -> httpx.Response:
    """GET one path."""
    return (await fetch_all(app, [path], **kwargs))[0]


async def fetch_cfg(path: str, **overrides: Any) -> httpx.Response:
    """GET one path from a fresh app built with :func:`config`."""
    return await fetch(create_app(config(**overrides)), path)
