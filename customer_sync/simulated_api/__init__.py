"""A simulated third-party customer API: reqres.in-compatible, flaky on purpose.

A real ASGI app (Starlette) that serves the 12-user demo dataset or a lazily generated
one of any size, and injects configurable, seed-deterministic faults: 5xx, 429 with
Retry-After, connection resets, truncated or invalid JSON, stalls, latency, rate limits
and page drift. Run it in process (:func:`create_app` under ``httpx.ASGITransport``),
on loopback in a thread (:class:`SimulatedServer`), or standalone
(``python -m customer_sync.simulated_api``). The contract is in ``docs/simulated_api.md``.
"""

from __future__ import annotations

from .app import SimulatorApp, create_app
from .config import DRIFT_MODES, FAULT_KINDS, SimulatorConfig
from .dataset import RECORD_KINDS, Dataset, Record, RecordKind, usable_id
from .demo import DEMO_USERS, DemoDataset, demo_dataset
from .faults import Fault
from .generator import GeneratedDataset
from .ratelimit import UNLIMITED
from .responses import SimulatedConnectionReset
from .server import SimulatedServer
from .simulator import Simulator, build_dataset
from .stats import SimulatorStats

__all__ = [
    "DEMO_USERS",
    "DRIFT_MODES",
    "FAULT_KINDS",
    "RECORD_KINDS",
    "UNLIMITED",
    "Dataset",
    "DemoDataset",
    "Fault",
    "GeneratedDataset",
    "Record",
    "RecordKind",
    "SimulatedConnectionReset",
    "SimulatedServer",
    "Simulator",
    "SimulatorApp",
    "SimulatorConfig",
    "SimulatorStats",
    "build_dataset",
    "create_app",
    "demo_dataset",
    "usable_id",
]
