"""How many records per second the simulated API serves on loopback (faults off).

Spawns ``python -m customer_sync.simulated_api --port 0 --port-file ...`` in its own process,
fetches every page with httpx from a few concurrent workers, and prints a small table::

    python -m bench.simulator_throughput                       # 200,000 customers
    python -m bench.simulator_throughput --customers 1000000 --per-page 1000

The run is bounded (one pass over the dataset per page size) and stops the server it
started. Only loopback addresses are used.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import psutil

ROOT = Path(__file__).resolve().parent.parent
NOW = "2026-01-15T12:00:00+00:00"


@dataclass
class Result:
    per_page: int
    concurrency: int
    pages: int
    records: int
    seconds: float
    megabytes: float
    server_cpu: float = 0.0

    @property
    def records_per_server_cpu_second(self) -> float:
        return self.records / self.server_cpu if self.server_cpu else 0.0

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds


def start_server(
    customers: int, max_per_page: int, workdir: Path
) -> tuple[subprocess.Popen[bytes], str]:
    port_file = workdir / "port"
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "customer_sync.simulated_api",
            "--host", "127.0.0.1", "--port", "0",
            "--port-file", str(port_file), "--customers", str(customers), "--fault-rate", "0",
            "--max-per-page", str(max_per_page), "--now", NOW,
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not port_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit("the simulator did not start")
        time.sleep(0.02)
    return proc, f"http://127.0.0.1:{port_file.read_text().strip()}/api"


async def fetch_all(base_url: str, per_page: int, pages: int, concurrency: int) -> Result:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for page in range(1, pages + 1):
        queue.put_nowait(page)
    records = 0
    size = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60.0) as client:

        async def worker() -> None:
            nonlocal records, size
            while not queue.empty():
                page = queue.get_nowait()
                response = await client.get("/users", params={"page": page, "per_page": per_page})
                response.raise_for_status()
                records += len(orjson.loads(response.content)["data"])
                size += len(response.content)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return Result(per_page, concurrency, pages, records, seconds, size / 1e6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--per-page", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="sim-bench-") as tmp:
        proc, base_url = start_server(args.customers, max(args.per_page), Path(tmp))
        try:
            server = psutil.Process(proc.pid)
            results = []
            for per_page in args.per_page:
                pages = -(-args.customers // per_page)
                cpu_before = sum(server.cpu_times()[:2])
                result = asyncio.run(fetch_all(base_url, per_page, pages, args.concurrency))
                result.server_cpu = sum(server.cpu_times()[:2]) - cpu_before
                results.append(result)
            stats = httpx.get(f"{base_url}/_stats").json()
        finally:
            proc.terminate()
            proc.wait(timeout=15)

    print(f"simulated API, {args.customers:,} generated customers, faults off, loopback")
    print()
    print(
        "| per_page | workers | pages | records | seconds | MB | records/s "
        "| server CPU s | records per server CPU s |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r.per_page} | {r.concurrency} | {r.pages:,} | {r.records:,} | {r.seconds:.2f} "
            f"| {r.megabytes:.1f} | {r.records_per_second:,.0f} | {r.server_cpu:.2f} "
            f"| {r.records_per_server_cpu_second:,.0f} |"
        )
    print()
    print("records/s is wall clock with client and server sharing the machine's cores.")
    print()
    print(
        f"server: {stats['requests']:,} requests, statuses {stats['by_status']}, "
        f"faults {stats['faults_total']}, max in flight {stats['max_in_flight']}"
    )


if __name__ == "__main__":
    main()
