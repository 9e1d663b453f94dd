"""Support for the reliability tests (issue #6).

* :class:`FakeTime`: one fake time line shared by client and simulator; nothing waits.
* :class:`InProcessAPI`: the simulated API in process, and :meth:`InProcessAPI.run`, one
  whole pipeline run (fetch, transform, export) against it on fake time.
* :class:`Tap`: a transport wrapper that records every request's page and outcome, so a
  test can check that no page was requested past its retry budget.
* :func:`chaos_problems`: the chaos checks, as a list of violations (empty = all good).
* :class:`LoopbackApp`: any small ASGI app on a loopback address, in a uvicorn thread.
* CLI helpers: in process (:func:`cli_in_process`) or as a subprocess (:func:`cli_process`).
"""

from __future__ import annotations

import asyncio
import contextvars
import io
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import uvicorn

from customer_sync import cli
from customer_sync.config import Settings, load_settings
from customer_sync.errors import RetriableAPIError
from customer_sync.events import Hook
from customer_sync.models import Event
from customer_sync.pipeline import RunReport, run_pipeline
from customer_sync.simulated_api import SimulatorConfig, create_app, usable_id
from customer_sync.sink.base import Sink
from customer_sync.source.envelope import decode_body, read_envelope
from customer_sync.source.fetcher import MAX_429_PER_PAGE
from customer_sync.transform import CustomerDataProcessor

from .support import ROOT, SCHEMA_PATH

#: The moment every simulated data set is relative to, and the run's as-of.
NOW = datetime(2026, 3, 14, 15, 9, 26, tzinfo=UTC)
AS_OF_TEXT = "2026-03-14T15:09:26Z"
EPOCH = 1_773_500_000.0  # the fake wall clock at fake time 0
BASE = "http://sim.test/api"


# -- time --------------------------------------------------------------------------------
#: The server-side waits (latency, stalls) of the request a :class:`Tap` is passing on.
_SERVER_WAITS: contextvars.ContextVar[list[float] | None] = contextvars.ContextVar(
    "_SERVER_WAITS", default=None
)


@dataclass
class FakeTime:
    """Monotonic and wall clocks that move only when someone sleeps."""

    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return EPOCH + self.now

    async def sleep(self, seconds: float) -> None:
        """The client's sleep: recorded, and the clock moves."""
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)

    async def server_sleep(self, seconds: float) -> None:
        """The simulator's latency and stalls: the clock moves, and the :class:`Tap` of the
        request (if any) learns how long the server kept it waiting."""
        waits = _SERVER_WAITS.get()
        if waits is not None:
            waits.append(seconds)
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


# -- settings and in-process runs --------------------------------------------------------
def settings_for(tmp: Path, **overrides: Any) -> Settings:
    """Pipeline settings for a test: no environment, no .env file, output under ``tmp``."""
    options: dict[str, Any] = {
        "api_url": BASE,
        "output": tmp / "sample_output.json",
        "as_of": AS_OF_TEXT,
        "progress": False,
        "report": "off",  # ~0.5 s of charts a run; the report's own tests pass report=None
    }
    options.update(overrides)
    return load_settings(options, environ={}, env_file=None)


@dataclass
class InProcessAPI:
    """The simulated API as an ASGI app on fake time, and pipeline runs against it."""

    config: SimulatorConfig
    time: FakeTime
    events: list[Event] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.app = create_app(self.config)

    @property
    def simulator(self) -> Any:
        return self.app.state.simulator

    def stats(self) -> dict[str, Any]:
        snapshot: dict[str, Any] = self.simulator.stats.snapshot()
        return snapshot

    def transport(self) -> httpx.AsyncBaseTransport:
        return httpx.ASGITransport(app=self.app)

    def run(
        self,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        hook: Hook | None = None,
        seed: int = 7,
        now: datetime = NOW,
        sink: Sink | None = None,
    ) -> RunReport:
        """One whole pipeline run on fake time (``hook`` sees events after they are kept).

        With ``settings.api_url`` unset the pipeline starts its built-in simulator on
        loopback, and this app is only the source of fake time.
        """

        def observe(event: Event) -> None:
            self.events.append(event)
            if hook is not None:
                hook(event)

        return run_pipeline(
            settings,
            hook=observe,
            now=lambda: now,
            clock=self.time.monotonic,
            transport=transport or (self.transport() if settings.api_url else None),
            sleep=self.time.sleep,
            wall_clock=self.time.wall,
            random=random.Random(seed),
            sink=sink,
        )

    def named(self, name: str) -> list[dict[str, Any]]:
        return [dict(e.fields) for e in self.events if e.name == name]

    def final_records(self) -> list[Any]:
        """Every record the API shows now (after any drift), in order."""
        view = self.simulator.view
        return list(view.records(0, len(view)))


def in_process_api(**overrides: Any) -> InProcessAPI:
    fake = FakeTime()
    options: dict[str, Any] = {
        "fault_rate": 0.0,
        "now": NOW,
        "clock": fake.monotonic,
        "wall_clock": fake.wall,
        "sleep": fake.server_sleep,
    }
    options.update(overrides)
    return InProcessAPI(SimulatorConfig(**options), fake)


def clean_customers(records: Iterable[Any]) -> list[dict[str, Any]]:
    """What an uninterrupted, fault-free run exports for ``records``, sorted as exported."""
    processor = CustomerDataProcessor(as_of=NOW)
    processor.add_batch(list(records))
    customers = processor.finish().customers
    return sorted(customers, key=lambda c: (c["full_name"], c["customer_id"]))


def usable_ids(records: Iterable[Any]) -> set[int]:
    found = (usable_id(r.get("id")) if isinstance(r, dict) else None for r in records)
    return {i for i in found if i is not None}


# -- the request tap ---------------------------------------------------------------------
OK, THROTTLED, ERROR = "ok", "429", "error"


class Tap(httpx.AsyncBaseTransport):
    """Wraps a transport; records ``(page, outcome)`` for every list request.

    The outcome is what the client's policy makes of the answer: ``ok`` (a 2xx whose body
    decodes to a page), ``429``, or ``error`` (5xx, reset, truncated or invalid body, or a
    stall past the read timeout).

    ``read_timeout`` brings the client's read timeout to fake time: ``ASGITransport`` has
    no timeouts, so when the simulator kept a request waiting (fake seconds, through
    :meth:`FakeTime.server_sleep`) longer than that, the tap raises ``httpx.ReadTimeout``,
    as the real transport would have.
    """

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        *,
        keep_bodies: bool = False,
        read_timeout: float | None = None,
    ) -> None:
        self.inner = inner
        self.keep_bodies = keep_bodies
        self.read_timeout = read_timeout
        self.log: list[tuple[int, str]] = []
        #: ``(page, body)`` of every good answer, in order, when ``keep_bodies``.
        self.bodies: list[tuple[int, dict[str, Any]]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "0"))
        waits: list[float] = []
        token = _SERVER_WAITS.set(waits)
        try:
            response = await self.inner.handle_async_request(request)
            content = await response.aread()
        except httpx.TransportError:
            self.log.append((page, ERROR))
            raise
        finally:
            _SERVER_WAITS.reset(token)
        if self.read_timeout is not None and sum(waits) > self.read_timeout:
            self.log.append((page, ERROR))
            raise httpx.ReadTimeout("no answer within the read timeout", request=request)
        outcome = _outcome(response.status_code, content)
        self.log.append((page, outcome))
        if self.keep_bodies and outcome == OK:
            self.bodies.append((page, json.loads(content)))
        return httpx.Response(
            response.status_code, headers=response.headers, content=content, request=request
        )

    async def aclose(self) -> None:
        await self.inner.aclose()

    def sequences(self) -> dict[int, list[str]]:
        by_page: defaultdict[int, list[str]] = defaultdict(list)
        for page, outcome in self.log:
            by_page[page].append(outcome)
        return dict(by_page)

    def outcomes(self) -> Counter[str]:
        return Counter(outcome for _, outcome in self.log)


def _outcome(status: int, content: bytes) -> str:
    if status == 429:
        return THROTTLED
    if not 200 <= status < 300:
        return ERROR
    try:
        read_envelope(decode_body(content, page=0), page=0)
    except RetriableAPIError:
        return ERROR
    return OK


def budget_violations(sequences: Mapping[int, list[str]], max_retries: int) -> list[str]:
    """Pages requested past their retry budget, or left without a good answer.

    A fetch of a page may fail ``max_retries`` times (errors; 429s have their own, larger
    bound) and must then succeed: an error streak longer than that means the client sent a
    request its policy did not allow.
    """
    problems: list[str] = []
    for page, outcomes in sorted(sequences.items()):
        errors = throttled = 0
        for outcome in outcomes:
            if outcome == OK:
                errors = throttled = 0
                continue
            if outcome == ERROR:
                errors += 1
            else:
                throttled += 1
            if errors > max_retries:
                problems.append(f"page {page}: {errors} errors in a row (budget {max_retries})")
                break
            if throttled > MAX_429_PER_PAGE:
                problems.append(f"page {page}: {throttled} 429s in a row")
                break
        else:
            if outcomes and outcomes[-1] != OK:
                problems.append(f"page {page}: its last request got {outcomes[-1]}")
    return problems


# -- the chaos checks --------------------------------------------------------------------
@cache
def _validator() -> Any:
    schema = json.loads(SCHEMA_PATH.read_text())
    return jsonschema.validators.validator_for(schema)(schema)


def chaos_problems(
    document: Mapping[str, Any],
    expected: list[dict[str, Any]],
    *,
    sequences: Mapping[int, list[str]] | None = None,
    max_retries: int = 3,
) -> list[str]:
    """Everything wrong with one chaos run's output (an empty list means it passed).

    * every expected customer exported exactly once, with the same fields;
    * nothing exported that should not be;
    * the accounting identity, and the counts agreeing with the customers list;
    * the document valid against the published schema;
    * no page requested past its retry budget (when ``sequences`` from a :class:`Tap`).
    """
    problems: list[str] = []
    customers = list(document.get("customers", []))
    ids = Counter(c.get("customer_id") for c in customers)
    twice = sorted(i for i, n in ids.items() if n > 1)
    if twice:
        problems.append(f"customers exported more than once: {twice[:10]}")
    wanted = {c["customer_id"]: c for c in expected}
    missing = sorted(set(wanted) - set(ids))
    if missing:
        problems.append(f"customers missing: {len(missing)} (e.g. {missing[:10]})")
    extra = sorted(set(ids) - set(wanted), key=str)
    if extra:
        problems.append(f"customers that should not be there: {extra[:10]}")
    changed = sorted(
        c["customer_id"] for c in customers if c.get("customer_id") in wanted
        and c != wanted[c["customer_id"]]
    )
    if changed:
        problems.append(f"customers with other fields than a clean run: {changed[:10]}")

    meta = document.get("metadata", {})
    acc = meta.get("accounting", {})
    parts = ("exported", "duplicates_merged", "rejected", "replaced_by_rewalk")
    adds_up = acc.get("records_in") == sum(acc.get(k, 0) for k in parts)
    if not adds_up or acc.get("balanced") is not True:
        problems.append(f"accounting identity does not hold: {acc}")
    if not acc.get("exported") == meta.get("total_customers") == len(customers):
        problems.append(
            f"{len(customers)} customers listed, but exported={acc.get('exported')} and "
            f"total_customers={meta.get('total_customers')}"
        )
    if acc.get("records_in") != meta.get("run_stats", {}).get("records"):
        problems.append("records processed differ from records fetched")

    errors = sorted(_validator().iter_errors(document), key=lambda e: list(e.path))
    problems += [f"schema: {e.message} at {list(e.path)}" for e in errors[:5]]
    if sequences is not None:
        problems += budget_violations(sequences, max_retries)
    return problems


# -- a small ASGI app on loopback ----------------------------------------------------------
Respond = Callable[[Mapping[str, Any]], tuple[int, dict[str, str], bytes]]


class Recorder:
    """An ASGI app that records each request (path, query, headers) and answers via
    ``respond(request) -> (status, headers, body)``."""

    def __init__(self, respond: Respond) -> None:
        self.respond = respond
        self.requests: list[dict[str, Any]] = []

    async def __call__(
        self,
        scope: Mapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Mapping[str, Any]], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            return
        request = {
            "path": scope["path"],
            "params": dict(httpx.QueryParams(scope["query_string"].decode())),
            "headers": {k.decode().lower(): v.decode() for k, v in scope["headers"]},
        }
        self.requests.append(request)
        status, headers, body = self.respond(request)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
            }
        )
        await send({"type": "http.response.body", "body": body})


class LoopbackApp:
    """Serves an ASGI app on ``host`` (a loopback address), port chosen by the OS."""

    def __init__(self, app: Any, host: str = "127.0.0.1") -> None:
        self.app = app
        self.host = host
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.bind((host, 0))
        self._sock.listen(128)
        config = uvicorn.Config(
            app,
            http="h11",
            loop="asyncio",
            ws="none",
            lifespan="off",
            log_config=None,
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self._sock.getsockname()[1]}"

    def __enter__(self) -> LoopbackApp:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:  # readiness poll, not a backoff
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("loopback app did not start")
            time.sleep(0.005)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._sock.close()


class FailPagesApp:
    """Wraps an ASGI app: list requests for ``pages`` get 503, every time."""

    def __init__(self, app: Any, pages: set[int]) -> None:
        self.app = app
        self.pages = pages

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            query = httpx.QueryParams(scope["query_string"].decode())
            if int(query.get("page", "0")) in self.pages:
                await send({"type": "http.response.start", "status": 503, "headers": []})
                await send({"type": "http.response.body", "body": b"busy"})
                return
        await self.app(scope, receive, send)


def page_body(page: int, records: list[dict[str, Any]], per_page: int, **extra: Any) -> bytes:
    """A reqres-shaped page of ``records`` (the whole list, cut into pages)."""
    start = (page - 1) * per_page
    body = {
        "page": page,
        "per_page": per_page,
        "total": len(records),
        "total_pages": -(-len(records) // per_page),
        "data": records[start : start + per_page],
    }
    body.update(extra)
    return json.dumps(body).encode()


def people(n: int) -> list[dict[str, Any]]:
    return [
        {"id": i, "email": f"person{i}@example.com", "first_name": "Pat", "last_name": f"N{i}"}
        for i in range(1, n + 1)
    ]


# -- the CLI -------------------------------------------------------------------------------
@dataclass(frozen=True)
class CliRun:
    code: int
    stdout: str
    stderr: str

    @property
    def last_line(self) -> str:
        lines = self.stderr.strip().splitlines()
        return lines[-1] if lines else ""


def cli_in_process(*args: str, environ: Mapping[str, str] | None = None) -> CliRun:
    """``python -m src.main ARGS`` in this process (no environment, captured streams).

    Call it from a test that has ``chdir``-ed into a temp dir, so no ``.env`` is read.
    """
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(args), environ=dict(environ or {}), stdout=out, stderr=err)
    return CliRun(code, out.getvalue(), err.getvalue())


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_")}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def cli_process(*args: str, cwd: Path) -> subprocess.Popen[str]:
    """The CLI as a subprocess (in ``cwd``), stdout and stderr piped."""
    return subprocess.Popen(
        [sys.executable, "-m", "src.main", *args],
        cwd=cwd,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def cli_run(*args: str, cwd: Path, timeout: float = 60) -> CliRun:
    proc = subprocess.run(
        [sys.executable, "-m", "src.main", *args],
        cwd=cwd,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return CliRun(proc.returncode, proc.stdout, proc.stderr)


class LineWatcher:
    """Reads a pipe in a thread so a test can wait for a line without blocking forever."""

    def __init__(self, stream: Any) -> None:
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: Any) -> None:
        for line in stream:
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self.lines.append("")  # EOF marker
            self._cond.notify_all()

    def wait_for(self, needle: str, timeout: float = 20) -> str:
        with self._cond:
            found = self._cond.wait_for(
                lambda: any(needle in line for line in self.lines) or "" in self.lines, timeout
            )
            hit = next((line for line in self.lines if needle in line), None)
        if not found or hit is None:
            raise AssertionError(f"{needle!r} never appeared: {''.join(self.lines)}")
        return hit

    def text(self) -> str:
        self._thread.join(10)
        return "".join(self.lines)


def wait_until(condition: Callable[[], bool], timeout: float = 20) -> None:
    """Poll ``condition`` (a readiness check on another process, never a backoff)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.002)


def _refuse_constant(token: str) -> Any:
    raise ValueError(f"non-strict JSON constant {token}")


def read_jsonl(path: Path) -> list[Any]:
    """Every line of a side file, parsed strictly. Lines end at ``\\n`` only: a record may
    hold U+0085 or U+2028 inside a string, which ``str.splitlines`` would split on."""
    text = path.read_text(encoding="utf-8")
    return [json.loads(line, parse_constant=_refuse_constant) for line in text.split("\n") if line]


def files_under(*roots: Path) -> Iterator[Path]:
    for root in roots:
        if root.is_file():
            yield root
        elif root.is_dir():
            yield from (p for p in root.rglob("*") if p.is_file())
