"""``python -m customer_sync.simulated_api``: run the simulated customer API standalone.

Flags first, then the environment (``SIMULATED_API_KEY`` for the key, so it need not
appear in a process list), then defaults. The API key is never printed or logged.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from types import FrameType

from ..errors import PipelineError
from .config import (
    DRIFT_MODES,
    FAULT_KINDS,
    OVER_MAX_MODES,
    RATE_HEADER_STYLES,
    SimulatorConfig,
)
from .server import SimulatedServer

__all__ = ["build_parser", "config_from_args", "main"]

API_KEY_ENV = "SIMULATED_API_KEY"


def _fault_kinds(text: str) -> tuple[str, ...]:
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    return FAULT_KINDS if kinds == ("all",) else kinds


def _timestamp(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 timestamp: {text!r}") from exc


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m customer_sync.simulated_api",
        description="A reqres.in-compatible customer API with configurable, seeded faults.",
    )
    net = parser.add_argument_group("network")
    net.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    net.add_argument("--port", type=int, default=8000, help="port; 0 picks a free one (8000)")
    net.add_argument("--port-file", type=Path, help="write the bound port here once listening")
    net.add_argument("--base-path", default="/api", help="prefix of every route (/api)")
    data = parser.add_argument_group("data")
    data.add_argument(
        "--customers",
        type=int,
        default=None,
        help="generate this many customers; omit for the 12-user demo dataset",
    )
    data.add_argument("--seed", type=int, default=0, help="seed for data and faults (0)")
    data.add_argument(
        "--duplicate-rate", type=float, default=0.02, help="generated duplicates (0.02)"
    )
    data.add_argument(
        "--bad-record-rate", type=float, default=0.01, help="records with no usable id (0.01)"
    )
    data.add_argument(
        "--now", type=_timestamp, help="ISO-8601 time the data is relative to (default: now)"
    )
    data.add_argument("--max-per-page", type=int, default=100, help="cap on per_page (100)")
    data.add_argument(
        "--over-max-per-page",
        choices=OVER_MAX_MODES,
        default="cap",
        help="a per_page above the max: cap it silently, or reject it with 400 (cap)",
    )
    data.add_argument(
        "--claimed-total-pages",
        type=int,
        default=None,
        help="report this total_pages whatever the data holds (inflated totals)",
    )
    data.add_argument(
        "--drift",
        choices=DRIFT_MODES,
        default="none",
        help="insert or delete records while clients page (none)",
    )
    data.add_argument("--drift-every", type=int, default=3, help="one drift event per K pages (3)")
    data.add_argument(
        "--drift-max-events", type=int, default=None, help="stop drifting after N events"
    )
    changes = parser.add_argument_group("incremental sync and changing data")
    changes.add_argument(
        "--incremental-param", default="updated_since",
        help="query parameter of the updated-since filter (updated_since)",
    )
    changes.add_argument(
        "--cursor-field", default="updated_at", help="record field it filters on (updated_at)"
    )
    changes.add_argument(
        "--ignore-incremental-param", action="store_true",
        help="play an API that ignores the filter and always serves everything",
    )
    for kind in ("update", "insert", "delete", "tie"):
        changes.add_argument(
            f"--change-{kind}", type=int, default=0, metavar="K",
            help=f"{kind} K customers at start"
            + (" (all with one shared updated_at)" if kind == "tie" else "")
            + " (0)",
        )
    changes.add_argument(
        "--change-every", type=int, default=0, metavar="N",
        help="apply the --change-* batch again every N list requests (0 = only at start)",
    )
    faults = parser.add_argument_group("faults")
    faults.add_argument(
        "--fault-rate", type=float, default=0.2, help="share of requests that fail; 0 = off (0.2)"
    )
    faults.add_argument(
        "--fault-kinds",
        type=_fault_kinds,
        default=("5xx",),
        help=f"comma-separated, or 'all', from {','.join(FAULT_KINDS)} (5xx)",
    )
    faults.add_argument(
        "--max-consecutive-failures",
        type=int,
        default=3,
        help="after N injected failures in a row a page is served cleanly; 0 = no cap (3)",
    )
    faults.add_argument(
        "--stall-seconds", type=float, default=20.0, help="how long a stall lasts (20)"
    )
    faults.add_argument(
        "--retry-after", type=int, default=1, help="Retry-After seconds of 429 faults (1)"
    )
    bodies = parser.add_argument_group("hostile bodies (list pages)")
    bodies.add_argument(
        "--body-padding-bytes", type=int, default=0, help="whitespace added to each body (0)"
    )
    bodies.add_argument(
        "--gzip-bodies", action="store_true", help="gzip-compress bodies as they stream"
    )
    bodies.add_argument(
        "--slow-body-seconds", type=float, default=0.0, help="trickle each body over N s (0)"
    )
    bodies.add_argument(
        "--slow-headers-seconds",
        type=float,
        default=0.0,
        help="send the status and header lines one at a time over N s (0)",
    )
    bodies.add_argument(
        "--hostile-attempts",
        type=int,
        default=None,
        help="only the first N requests of each page get the hostile body (all)",
    )
    limits = parser.add_argument_group("rate limit and latency")
    limits.add_argument(
        "--rate-limit", type=float, default=0.0, help="token bucket req/s; 0 = unlimited (0)"
    )
    limits.add_argument("--burst", type=int, default=10, help="token bucket size (10)")
    limits.add_argument(
        "--rate-limit-headers",
        choices=RATE_HEADER_STYLES,
        default="x",
        help="x: X-RateLimit-*; ietf: RateLimit-Limit/Remaining/Reset; structured: "
        "RateLimit and RateLimit-Policy; none: 429s carry only a Retry-After, in mixed "
        "forms (x)",
    )
    limits.add_argument(
        "--latency-ms", type=float, default=0.0, help="latency added to every answer (0)"
    )
    limits.add_argument(
        "--latency-jitter", type=float, default=0.0, help="± fraction of latency, e.g. 0.2 (0)"
    )
    auth = parser.add_argument_group("auth and logging")
    auth.add_argument(
        "--api-key",
        default=None,
        help=f"require this x-api-key header (or set {API_KEY_ENV}); never printed",
    )
    auth.add_argument("--access-log", action="store_true", help="log every request")
    auth.add_argument("--log-level", default="warning", help="log level (warning)")
    return parser


def config_from_args(args: argparse.Namespace, environ: Mapping[str, str]) -> SimulatorConfig:
    """The config the flags (then ``environ``) describe. Raises ConfigError."""
    return SimulatorConfig(
        customers=args.customers,
        seed=args.seed,
        duplicate_rate=args.duplicate_rate,
        bad_record_rate=args.bad_record_rate,
        base_path=args.base_path,
        max_per_page=args.max_per_page,
        over_max_per_page=args.over_max_per_page,
        claimed_total_pages=args.claimed_total_pages,
        body_padding_bytes=args.body_padding_bytes,
        gzip_bodies=args.gzip_bodies,
        slow_body_seconds=args.slow_body_seconds,
        slow_headers_seconds=args.slow_headers_seconds,
        hostile_attempts=args.hostile_attempts,
        rate_limit_headers=args.rate_limit_headers,
        fault_rate=args.fault_rate,
        fault_kinds=args.fault_kinds,
        max_consecutive_failures=args.max_consecutive_failures or None,
        retry_after_seconds=args.retry_after,
        stall_seconds=args.stall_seconds,
        rate_limit=args.rate_limit,
        burst=args.burst,
        latency_ms=args.latency_ms,
        latency_jitter=args.latency_jitter,
        api_key=args.api_key or environ.get(API_KEY_ENV) or None,
        drift=args.drift,
        drift_every=args.drift_every,
        drift_max_events=args.drift_max_events,
        now=args.now,
        incremental_param=args.incremental_param,
        cursor_field=args.cursor_field,
        ignore_incremental_param=args.ignore_incremental_param,
        change_update=args.change_update,
        change_insert=args.change_insert,
        change_delete=args.change_delete,
        change_tie=args.change_tie,
        change_every=args.change_every,
    )


def _describe(config: SimulatorConfig) -> str:
    data = (
        "demo dataset (12 reqres users + 4 problem records)"
        if config.customers is None
        else f"{config.customers:,} generated customers (seed {config.seed})"
    )
    faults = (
        f"{config.fault_rate:.0%} faults ({','.join(config.fault_kinds)})"
        if config.faults_enabled
        else "no faults"
    )
    limit = (
        f"{config.rate_limit:g} req/s burst {config.burst} "
        f"(headers: {config.rate_limit_headers})"
        if config.rate_limit
        else "off"
    )
    key = "required" if config.api_key else "not required"
    return f"{data}; {faults}; rate limit {limit}; api key {key}"


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def _write_port_file(path: Path, port: int) -> None:
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(f"{port}\n", encoding="utf-8")
    partial.replace(path)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s %(message)s")
    if args.access_log:  # paths and statuses only: the key travels in a header, never logged
        logging.getLogger("uvicorn.access").setLevel(logging.INFO)
    try:
        config = config_from_args(args, os.environ if environ is None else environ)
        server = SimulatedServer(config, host=args.host, port=args.port, access_log=args.access_log)
        server.bind()
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code

    def started() -> None:
        if args.port_file is not None:
            _write_port_file(args.port_file, server.port)
        print(f"Simulated API on {server.base_url}  [{_describe(config)}]", flush=True)

    previous = signal.signal(signal.SIGTERM, _exit_cleanly)
    try:
        # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal to the
        # handler it found: SIGTERM then ends the process with status 0, Ctrl-C with 130.
        server.serve_forever(on_started=started)
    except KeyboardInterrupt:
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0
