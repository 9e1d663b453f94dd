"""Scenario B, destinations, sink only: one process transforms N generated customers once,
then times each sink's ``write`` of that very result, interleaved and repeated.

Every destination gets a first load (empty tables) and then re-syncs of the same result
into full ones (the steady state of a daily sync). Prints one JSON line:
``{"customers": N, "times": {kind: {"first": [s...], "again": [s...]}}}``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from customer_sync.destinations import parse_destination
from customer_sync.simulated_api.generator import GeneratedDataset
from customer_sync.sink.factory import open_sink
from customer_sync.transform import CustomerDataProcessor

AS_OF = datetime(2026, 1, 15, 12, tzinfo=UTC)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("customers", type=int)
    parser.add_argument("--postgres", required=True, help="server URL (database postgres)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    records = list(GeneratedDataset(args.customers, seed=args.seed, now=AS_OF).iter_records())
    result = CustomerDataProcessor(as_of=AS_OF).process_customers(records)
    del records
    root = Path(tempfile.mkdtemp(prefix="bench-sinks-"))
    times: dict[str, dict[str, list[float]]] = {}
    try:
        for rep in range(args.repeat):
            urls = {
                "json": f"json:{root / f'out-{rep}.json'}",
                "duckdb": f"duckdb:{root / f'c-{rep}.duckdb'}",
                "parquet": f"parquet:{root / f'lake-{rep}'}",
                "postgresql": f"{args.postgres}?schema=bench_{rep}",
            }
            for phase in ("first", "again"):
                for kind, url in urls.items():
                    sink = open_sink(parse_destination(url))
                    sink.check_writable()
                    metadata = {
                        "export_timestamp": "2026-01-15T12:00:00Z",
                        "run_id": f"{kind}-{rep}-{phase}",
                    }
                    started = time.perf_counter()
                    sink.write(result, metadata)
                    elapsed = time.perf_counter() - started
                    times.setdefault(kind, {}).setdefault(phase, []).append(elapsed)
                    print(f"{kind} {phase} {elapsed:.2f} s", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps({"customers": args.customers, "exported": result.counts.exported,
                      "times": times}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
