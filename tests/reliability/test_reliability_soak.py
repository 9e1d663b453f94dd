"""Soak (issue #6): 50 consecutive syncs in one process leak nothing.

Each sync is a whole pipeline run (fetch with retries over real loopback connections,
transform, export) against the simulated API in a thread of this process. After a few
warm-up runs, open file descriptors, threads, memory, sockets and event loops must stay
flat.
"""

from __future__ import annotations

import asyncio
import gc
import random
import threading
from pathlib import Path

import psutil

from customer_sync.pipeline import run_pipeline
from customer_sync.simulated_api import SimulatedServer, SimulatorConfig

from ..chaos_support import NOW, FakeTime, settings_for, wait_until
from ..support import read_strict

RUNS, WARM_UP = 50, 3
RSS_SLACK = 16 * 2**20  # bytes; measured growth over the 47 runs is 2-4 MiB of allocator noise


def client_connections(process: psutil.Process, port: int) -> list[object]:
    return [c for c in process.net_connections(kind="tcp") if c.raddr and c.raddr.port == port]


def open_event_loops() -> list[asyncio.AbstractEventLoop]:
    """Event loops neither closed nor running (the server thread's loop is running)."""
    gc.collect()
    return [
        obj for obj in gc.get_objects()
        if isinstance(obj, asyncio.AbstractEventLoop) and not obj.is_closed()
        and not obj.is_running()
    ]


def test_fifty_syncs_in_one_process_keep_fds_threads_memory_and_sockets_flat(
    tmp_path: Path,
) -> None:
    """After warm-up, 50 syncs add no fds, threads, sockets or loops, and RSS stays bounded."""
    process = psutil.Process()
    config = SimulatorConfig(customers=300, seed=9, now=NOW, fault_rate=0.2,
                             fault_kinds=("5xx", "reset", "truncated"))
    fake = FakeTime()
    with SimulatedServer(config) as server:
        settings = settings_for(tmp_path, api_url=server.base_url, per_page=50, concurrency=4,
                                sync_mode="full")

        def sync(n: int) -> None:
            report = run_pipeline(settings, now=lambda: NOW, sleep=fake.sleep,
                                  wall_clock=fake.wall, random=random.Random(n))
            assert report.result.counts.records_in == 300

        for n in range(WARM_UP):
            sync(n)
        gc.collect()
        wait_until(lambda: not client_connections(process, server.port))
        fds, threads = process.num_fds(), threading.active_count()
        rss = process.memory_info().rss
        for n in range(WARM_UP, RUNS):
            sync(n)
        gc.collect()
        wait_until(lambda: not client_connections(process, server.port))
        assert process.num_fds() <= fds
        assert threading.active_count() == threads
        grown = process.memory_info().rss - rss
        requests = server.stats.snapshot()["requests"]
    assert grown < RSS_SLACK, f"RSS grew {grown / 2**20:.1f} MiB over {RUNS - WARM_UP} runs"
    assert open_event_loops() == []
    assert requests > RUNS * 6  # every run really went over the wire, faults included
    assert read_strict(tmp_path / "sample_output.json")["metadata"]["total_customers"] > 0
