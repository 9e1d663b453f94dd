"""Child process of the transform benchmark: ``python -m bench.transform_worker FILE``.

It parses the file with orjson (timed: the floor), runs the parsed records through
``CustomerDataProcessor.process_customers`` (timed: normalize, dedup, enrich, score) and
prints one JSON line. The parent reads this process's peak RSS from ``os.wait4``;
``baseline_rss_bytes`` is the peak after imports, before the data is read.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from datetime import datetime
from pathlib import Path

import orjson

__all__ = ["main"]


def _peak_rss_bytes() -> int:
    """This process's own high-water RSS.

    On Linux ``ru_maxrss`` carries over the parent's RSS from before ``exec`` (the forked
    copy), so a large benchmark parent would inflate it; ``VmHWM`` belongs to this
    process's own address space only.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("input", type=Path)
    parser.add_argument("--as-of", required=True, type=datetime.fromisoformat)
    args = parser.parse_args(argv)

    from customer_sync.transform import CustomerDataProcessor

    processor = CustomerDataProcessor(as_of=args.as_of)
    baseline = _peak_rss_bytes()

    raw = args.input.read_bytes()
    started = time.perf_counter()
    records = orjson.loads(raw)
    parsed = time.perf_counter()
    result = processor.process_customers(records)
    done = time.perf_counter()

    counts = result.counts
    print(
        orjson.dumps(
            {
                "records": len(records),
                "bytes": len(raw),
                "parse_seconds": parsed - started,
                "transform_seconds": done - parsed,
                "exported": counts.exported,
                "merged": counts.duplicates_merged,
                "rejected": counts.rejected,
                "balanced": counts.balanced,
                "baseline_rss_bytes": baseline,
                "peak_rss_bytes": _peak_rss_bytes(),
            }
        ).decode()
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
