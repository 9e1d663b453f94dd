"""The API client against the simulated API: the behaviour issue #3 asks for.

Most tests run the simulator in process (``httpx.ASGITransport``); socket faults, stalls,
timeouts and server-side concurrency counting use ``SimulatedServer`` on loopback. A few
cases the simulator cannot produce (a bad ``Retry-After``, a redirect to another host, a
server that ignores ``page``) use ``httpx.MockTransport``. Time is fake: the client's
``sleep`` records the waits it asked for and moves the fake clock, nothing really waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

import src.api_client
from customer_sync import __version__
from customer_sync.errors import (
    AuthError,
    ConfigError,
    FatalAPIError,
    IncompleteSyncError,
    RetryBudgetExhausted,
)
from customer_sync.simulated_api import SimulatedServer, SimulatorConfig, create_app, usable_id
from src.api_client import ClientSettings, CustomerAPIClient, InMemoryPageStore, StoreIdentity
from src.models import Event, Page

from .chaos_support import FakeTime
from .support import make_client
from .virtual_time import VirtualTimeLoop

BASE = "http://sim.test/api"
NOW = datetime(2026, 3, 14, 15, 9, 26, tzinfo=UTC)


# -- fakes --------------------------------------------------------------------------------
async def instant(_seconds: float) -> None:
    """The simulator's latency and stalls, skipped."""
    await asyncio.sleep(0)


@dataclass
class Sim:
    """An in-process simulated API with a client factory on the same fake time."""

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

    def client(self, api_key: str | None = None, **settings: Any) -> CustomerAPIClient:
        options: dict[str, Any] = {"jitter": 0.0}
        options.update(settings)
        return make_client(
            BASE,
            api_key,
            transport=httpx.ASGITransport(app=self.app),
            sleep=self.time.sleep,
            clock=self.time.monotonic,
            wall_clock=self.time.wall,
            random=random.Random(7),
            hook=self.events.append,
            **options,
        )

    def fetch(self, api_key: str | None = None, **settings: Any) -> tuple[list[Any], Any]:
        client = self.client(api_key, **settings)
        records = client.fetch_all_customers()
        return records, client.stats

    def named(self, name: str) -> list[dict[str, Any]]:
        return [dict(e.fields) for e in self.events if e.name == name]


def make_sim(**overrides: Any) -> Sim:
    fake = FakeTime()
    options: dict[str, Any] = {
        "fault_rate": 0.0,
        "now": NOW,
        "clock": fake.monotonic,
        "wall_clock": fake.wall,
        "sleep": instant,
    }
    options.update(overrides)
    return Sim(SimulatorConfig(**options), fake)


def canonical(record: Any) -> str:
    return json.dumps(record, sort_keys=True)


def served(sim_dataset: Any) -> Counter[str]:
    """Every record the data set holds, as a multiset (its own duplicates included)."""
    return Counter(canonical(r) for r in sim_dataset.iter_records())


@dataclass
class FakeAPI:
    """A hand-written API for ``httpx.MockTransport``: pages of records, and a tweak."""

    records: list[dict[str, Any]]
    per_page: int = 6
    tweak: Callable[[int, dict[str, Any]], httpx.Response | dict[str, Any] | None] | None = None
    requests: list[httpx.Request] = field(default_factory=list)

    def body(self, page: int) -> dict[str, Any]:
        start = (page - 1) * self.per_page
        total = len(self.records)
        return {
            "page": page,
            "per_page": self.per_page,
            "total": total,
            "total_pages": -(-total // self.per_page),
            "data": self.records[start : start + self.per_page],
        }

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        page = int(request.url.params.get("page", "1"))
        body = self.body(page)
        if self.tweak is not None:
            changed = self.tweak(page, body)
            if isinstance(changed, httpx.Response):
                return changed
            if changed is not None:
                body = changed
        return httpx.Response(200, json=body)

    def client(self, **settings: Any) -> tuple[CustomerAPIClient, FakeTime, list[Event]]:
        fake, events = FakeTime(), []
        options: dict[str, Any] = {"jitter": 0.0}
        options.update(settings)
        client = make_client(
            BASE,
            options.pop("api_key", None),
            transport=httpx.MockTransport(self),
            sleep=fake.sleep,
            clock=fake.monotonic,
            wall_clock=fake.wall,
            hook=events.append,
            **options,
        )
        return client, fake, events


def people(n: int) -> list[dict[str, Any]]:
    return [{"id": i, "email": f"user{i}@example.com"} for i in range(1, n + 1)]


@contextlib.contextmanager
def loopback(**overrides: Any) -> Iterator[SimulatedServer]:
    options: dict[str, Any] = {"fault_rate": 0.0, "now": NOW}
    options.update(overrides)
    with SimulatedServer(SimulatorConfig(**options)) as server:
        yield server


def loopback_client(server: SimulatedServer, **settings: Any) -> CustomerAPIClient:
    fake = FakeTime()
    options: dict[str, Any] = {"jitter": 0.0}
    options.update(settings)
    return make_client(
        server.base_url,
        sleep=fake.sleep,
        clock=fake.monotonic,
        wall_clock=fake.wall,
        **options,
    )


def idle_snapshot(server: SimulatedServer) -> dict[str, Any]:
    """The server's stats once nothing is in flight (a reset can beat the server thread)."""
    deadline = time.monotonic() + 5.0
    snapshot: dict[str, Any] = server.stats.snapshot()
    while snapshot["in_flight"] and time.monotonic() < deadline:
        time.sleep(0.002)
        snapshot = server.stats.snapshot()
    return snapshot


# -- the public surface -------------------------------------------------------------------
def test_entry_module_exports_the_client_surface() -> None:
    """``src.api_client`` re-exports the client, its settings and the page-store seam."""
    assert set(src.api_client.__all__) >= {
        "ClientSettings",
        "CustomerAPIClient",
        "InMemoryPageStore",
        "PageStore",
        "Paginator",
    }
    for name in src.api_client.__all__:
        assert getattr(src.api_client, name) is not None


def test_demo_dataset_fetched_whole_with_its_own_duplicates() -> None:
    """The sync wrapper returns every record of the demo data, its duplicates included."""
    sim = make_sim()
    records, stats = sim.fetch(per_page=6)
    assert Counter(map(canonical, records)) == served(sim.simulator.dataset)
    assert len(records) == 16
    assert (stats.pages, stats.records, stats.requests) == (3, 16, 3)
    assert stats.reported_total == 16
    assert not stats.drift_detected
    assert stats.bytes_received > 0


def test_stream_yields_pages_as_they_arrive() -> None:
    """``iter_pages`` yields Page objects whose records add up to the data set."""
    sim = make_sim(customers=60)

    async def collect() -> list[Page]:
        async with sim.client(per_page=10, concurrency=3) as client:
            return [page async for page in client.iter_pages()]

    pages = asyncio.run(collect())
    assert sorted(p.number for p in pages) == list(range(1, 7))
    assert all(p.total == 60 and p.total_pages == 6 for p in pages)
    assert sum(len(p.records) for p in pages) == 60


def test_stream_closed_early_leaves_nothing_running() -> None:
    """Breaking out of ``iter_pages`` cancels the pages in flight and closes cleanly."""
    sim = make_sim(customers=200)

    async def first_two() -> list[int]:
        async with sim.client(per_page=5, concurrency=4) as client:
            seen = []
            async with contextlib.aclosing(client.iter_pages()) as pages:
                async for page in pages:
                    seen.append(page.number)
                    if len(seen) == 2:
                        break
            return seen

    assert len(asyncio.run(first_two())) == 2
    assert sim.stats()["requests"] < 40


def test_fetch_page_fetches_one_page_with_retries() -> None:
    """``_fetch_page(n)`` returns page n, retrying a failure on the way."""
    sim = make_sim(customers=30, fault_rate=1.0, max_consecutive_failures=1)

    async def page_two() -> Page:
        async with sim.client(per_page=10) as client:
            return await client._fetch_page(2)

    page = asyncio.run(page_two())
    assert page.number == 2
    assert [usable_id(r["id"]) for r in page.records] == list(range(11, 21))
    assert sim.time.sleeps == [1.0]


# -- retries ------------------------------------------------------------------------------
IN_PROCESS_FAULTS = [
    ("5xx", {"http_500", "http_502", "http_503", "http_504"}),
    ("429", {"rate_limited"}),
    ("reset", {"reset"}),
    ("reset_mid_body", {"reset"}),
    ("truncated", {"invalid_json"}),
    ("invalid_json", {"invalid_json", "invalid_body"}),
]


@pytest.mark.parametrize(("kind", "causes"), IN_PROCESS_FAULTS)
def test_every_fault_kind_is_retried_and_every_record_arrives_once(
    kind: str, causes: set[str]
) -> None:
    """Under each fault kind the sync completes with exactly the records the API holds."""
    sim = make_sim(customers=120, seed=5, fault_rate=0.4, fault_kinds=(kind,))
    records, stats = sim.fetch(per_page=10)
    assert Counter(map(canonical, records)) == served(sim.simulator.dataset)
    assert sim.stats()["faults"][kind] > 0
    assert set(stats.retries) <= causes
    assert sum(stats.retries.values()) == sim.stats()["faults"][kind]
    assert len(sim.named("retry")) == sum(stats.retries.values())


@pytest.mark.parametrize("kind", ["reset", "reset_mid_body", "stall"])
def test_socket_faults_on_loopback_are_retried(kind: str) -> None:
    """Real connection resets and a stalled server (read timeout) are retried to the end."""
    with loopback(
        customers=40, seed=2, fault_rate=0.3, fault_kinds=(kind,), stall_seconds=10.0
    ) as server:
        client = loopback_client(server, per_page=10, read_timeout=0.25)
        records = client.fetch_all_customers()
        snapshot = idle_snapshot(server)
    assert Counter(map(canonical, records)) == served(server.dataset)
    assert snapshot["faults"][kind] > 0
    expected = "read_timeout" if kind == "stall" else "reset"
    assert set(client.stats.retries) == {expected}


def test_connection_refused_is_retried_then_reported() -> None:
    """A port nobody listens on is retried as connect_error, then fails naming it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    fake = FakeTime()
    client = make_client(
        f"http://127.0.0.1:{port}/api", sleep=fake.sleep, clock=fake.monotonic, jitter=0.0
    )
    with pytest.raises(RetryBudgetExhausted, match=r"\(connect_error x4\)$"):
        client.fetch_all_customers()
    assert fake.sleeps == [1.0, 2.0, 4.0]


def test_retry_event_carries_page_attempt_cause_and_wait() -> None:
    """Each retry is one structured event with page, attempt, cause and wait."""
    sim = make_sim(customers=6, fault_rate=1.0, max_consecutive_failures=2)
    sim.fetch()
    retries = [e for e in sim.events if e.name == "retry"]
    assert [dict(e.fields) for e in retries] == [
        {"page": 1, "attempt": 1, "cause": retries[0].fields["cause"], "wait": 1.0},
        {"page": 1, "attempt": 2, "cause": retries[1].fields["cause"], "wait": 2.0},
    ]
    assert [e.at for e in retries] == [0.0, 1.0]


def test_backoff_waits_one_two_four_then_gives_up_naming_page_and_causes() -> None:
    """A page that always fails waits 1, 2, 4 s and then fails with its page and causes."""
    sim = make_sim(customers=6, fault_rate=1.0, max_consecutive_failures=None)
    with pytest.raises(RetryBudgetExhausted) as caught:
        sim.fetch()
    err = caught.value
    assert sim.time.sleeps == [1.0, 2.0, 4.0]
    assert err.page == 1
    assert sum(err.causes.values()) == 4
    assert all(cause.startswith("http_5") for cause in err.causes)
    assert str(err).startswith("page 1: giving up after 4 attempts (http_5")
    assert sim.stats()["requests"] == 4


def test_backoff_settings_shape_the_waits() -> None:
    """max_retries, backoff_base/factor/max are honoured exactly."""
    sim = make_sim(customers=6, fault_rate=1.0, max_consecutive_failures=None)
    with pytest.raises(RetryBudgetExhausted):
        sim.fetch(max_retries=5, backoff_base=0.5, backoff_factor=3.0, backoff_max=5.0)
    assert sim.time.sleeps == [0.5, 1.5, 4.5, 5.0, 5.0]


def test_jitter_is_a_small_seeded_fraction_on_top() -> None:
    """With jitter 0.1 each wait lies within 10 % above the nominal backoff."""
    sim = make_sim(customers=6, fault_rate=1.0, max_consecutive_failures=None)
    with pytest.raises(RetryBudgetExhausted):
        sim.fetch(jitter=0.1)
    for wait, nominal in zip(sim.time.sleeps, [1.0, 2.0, 4.0], strict=True):
        assert nominal <= wait <= nominal * 1.1
    assert sim.time.sleeps != [1.0, 2.0, 4.0]


@pytest.mark.parametrize("seconds", [1, 3])
def test_retry_after_is_honoured_in_seconds_and_http_date_forms(seconds: int) -> None:
    """A 429 waits exactly what Retry-After says, as delta-seconds or as an HTTP-date."""
    sim = make_sim(
        customers=60,
        seed=1,
        fault_rate=1.0,
        fault_kinds=("429",),
        max_consecutive_failures=1,
        retry_after_seconds=seconds,
    )
    records, stats = sim.fetch(per_page=6, concurrency=1)
    assert len(records) == 60
    details = sim.stats()["fault_details"]
    assert details["http_429_date"] > 0
    assert details["http_429_seconds"] > 0
    assert sim.time.sleeps == [float(seconds)] * 10
    assert stats.rate_limited == 10
    assert stats.retries == Counter({"rate_limited": 10})
    assert {e["source"] for e in sim.named("rate_limited")} == {"retry_after"}


def test_retry_after_is_capped_by_the_setting() -> None:
    """A Retry-After above retry_after_cap waits the cap."""
    sim = make_sim(
        customers=6,
        fault_rate=1.0,
        fault_kinds=("429",),
        max_consecutive_failures=1,
        retry_after_seconds=90,
    )
    sim.fetch(retry_after_cap=5.0)
    assert sim.time.sleeps == [5.0]


def test_429s_do_not_spend_the_error_budget() -> None:
    """Five 429s in a row on one page still succeed with max_retries=1."""
    sim = make_sim(
        customers=6,
        fault_rate=1.0,
        fault_kinds=("429",),
        max_consecutive_failures=5,
        retry_after_seconds=1,
    )
    records, stats = sim.fetch(max_retries=1)
    assert len(records) == 6
    assert stats.rate_limited == 5


def test_rate_limit_wait_budget_bounds_the_429_waits() -> None:
    """When the 429 waits would pass rate_limit_wait_budget the run stops, naming the page."""
    sim = make_sim(
        customers=6,
        fault_rate=1.0,
        fault_kinds=("429",),
        max_consecutive_failures=None,
        retry_after_seconds=2,
    )
    with pytest.raises(RetryBudgetExhausted, match=r"^page 1: rate-limit wait budget"):
        sim.fetch(rate_limit_wait_budget=5.0)
    assert sim.time.sleeps == [2.0, 2.0]


def test_endless_zero_second_429s_are_bounded() -> None:
    """A server answering 429 with Retry-After: 0 forever cannot spin the client forever."""
    api = FakeAPI(
        people(6), tweak=lambda page, body: httpx.Response(429, headers={"Retry-After": "0"})
    )
    client, _, events = api.client()
    with pytest.raises(RetryBudgetExhausted, match=r"^page 1: still rate-limited after 50 429s"):
        client.fetch_all_customers()
    assert len(api.requests) == 51
    assert {e.fields["wait"] for e in events if e.name == "retry"} == {0.0}


@pytest.mark.parametrize("header", ["-3", "soon", "", "1e3", "Mon, 99 Foo 2026 00:00:00 GMT"])
def test_bad_retry_after_falls_back_to_backoff(header: str) -> None:
    """An unusable Retry-After never crashes a run: the 429 waits the backoff instead."""
    calls = Counter[int]()

    def tweak(page: int, body: dict[str, Any]) -> httpx.Response | None:
        calls[page] += 1
        if calls[page] <= 2:
            return httpx.Response(429, headers={"Retry-After": header}, json={"error": "slow"})
        return None

    client, fake, events = FakeAPI(people(6), tweak=tweak).client()
    assert len(client.fetch_all_customers()) == 6
    assert fake.sleeps == [1.0, 2.0]
    limited = [dict(e.fields) for e in events if e.name == "rate_limited"]
    assert [e["source"] for e in limited] == ["backoff", "backoff"]
    assert [e["retry_after"] for e in limited] == [header, header]


def test_retry_after_on_a_503_is_honoured() -> None:
    """A 503 with Retry-After waits what the server asked, within the error budget."""
    calls = Counter[int]()

    def tweak(page: int, body: dict[str, Any]) -> httpx.Response | None:
        calls[page] += 1
        if calls[page] == 1:
            return httpx.Response(503, headers={"Retry-After": "7"}, text="busy")
        return None

    client, fake, _ = FakeAPI(people(6), tweak=tweak).client()
    client.fetch_all_customers()
    assert fake.sleeps == [7.0]
    assert client.stats.retries == Counter({"http_503": 1})


@pytest.mark.parametrize(
    ("status", "error", "hint"),
    [
        (400, FatalAPIError, "not retried"),
        (401, AuthError, "check the API key"),
        (403, AuthError, "check the API key"),
        (404, FatalAPIError, "not retried"),
        (418, FatalAPIError, "not retried"),
        (501, FatalAPIError, "not retried"),
    ],
)
def test_fatal_statuses_fail_at_once(status: int, error: type[Exception], hint: str) -> None:
    """400, 401, 403, 404 (and any status outside the retried set) fail on the first answer."""
    api = FakeAPI(people(6), tweak=lambda page, body: httpx.Response(status, json={}))
    client, fake, _ = api.client(per_page=6)
    with pytest.raises(error, match=rf"^page 1: HTTP {status} from .*{hint}"):
        client.fetch_all_customers()
    assert len(api.requests) == 1
    assert fake.sleeps == []


def test_wrong_api_key_is_a_401_not_retried_and_never_echoed() -> None:
    """A wrong key gets one request, an AuthError saying to check the key, and no key text."""
    sim = make_sim(api_key="right-key-123")
    with pytest.raises(AuthError) as caught:
        sim.fetch(api_key="wrong-key-456")
    assert sim.stats()["requests"] == 1
    message = str(caught.value)
    assert "Missing API key" in message
    assert "check the API key" in message
    assert "wrong-key-456" not in message
    assert "right-key-123" not in message


def test_wrong_path_is_a_404_not_retried() -> None:
    """A base URL with the wrong path gets one 404 and a FatalAPIError."""
    sim = make_sim()
    client = make_client(
        "http://sim.test/nope", transport=httpx.ASGITransport(app=sim.app), sleep=sim.time.sleep
    )
    with pytest.raises(FatalAPIError, match="HTTP 404"):
        client.fetch_all_customers()
    assert sim.stats()["requests"] == 1


def test_right_api_key_is_sent_and_accepted() -> None:
    """With the configured key the simulator serves every page."""
    sim = make_sim(api_key="right-key-123")
    records, _ = sim.fetch(api_key="right-key-123")
    assert len(records) == 16


@pytest.mark.parametrize(
    ("body", "cause"),
    [
        ({"page": 1, "data": "oops"}, "invalid_body"),
        ({"page": 1}, "invalid_body"),
        ([1, 2], "invalid_body"),
        ("not json at all", "invalid_json"),
    ],
)
def test_bad_body_is_retried_then_fails_naming_the_page(body: Any, cause: str) -> None:
    """A 200 without a ``data`` list is retried, then fails with the page and the cause.

    A garbled body says nothing about the server's load: the waits stay at the base.
    """

    def tweak(page: int, good: dict[str, Any]) -> httpx.Response:
        if isinstance(body, str):
            return httpx.Response(200, text=body)
        return httpx.Response(200, json=body)

    api = FakeAPI(people(6), tweak=tweak)
    client, fake, _ = api.client()
    with pytest.raises(RetryBudgetExhausted, match=rf"^page 1: .*\({cause} x4\)$") as caught:
        client.fetch_all_customers()
    assert caught.value.causes == {cause: 4}
    assert len(api.requests) == 4
    assert fake.sleeps == [1.0, 1.0, 1.0]


# -- pagination -----------------------------------------------------------------------------
def test_remaining_pages_are_fetched_after_page_one() -> None:
    """Page 1 comes first; then every other page once."""
    sim = make_sim(customers=50)
    sim.fetch(per_page=5)
    pages = [e["page"] for e in sim.named("page_fetched")]
    assert pages[0] == 1
    assert sorted(pages) == list(range(1, 11))
    assert sim.stats()["per_page_requests"] == dict.fromkeys(range(1, 11), 1)
    assert sim.named("sync_started") == [
        {"url": BASE, "per_page": 5, "total": 50, "total_pages": 10}
    ]


def test_missing_total_pages_pages_until_an_empty_page() -> None:
    """Without total_pages (and total) the client goes on page by page until an empty page."""

    def strip(page: int, body: dict[str, Any]) -> dict[str, Any]:
        return {"page": page, "data": body["data"]}

    api = FakeAPI(people(17), tweak=strip)
    client, _, _ = api.client()
    records = client.fetch_all_customers()
    assert [r["id"] for r in sorted(records, key=lambda r: r["id"])] == list(range(1, 18))
    assert [int(r.url.params["page"]) for r in api.requests] == [1, 2, 3, 4]


def test_loop_detection_stops_a_server_that_ignores_the_page() -> None:
    """The same records under two page numbers stop the sync: a paging loop."""
    first = FakeAPI(people(20)).body(1)
    api = FakeAPI(people(20), tweak=lambda page, body: {**first, "page": page})
    client, _, _ = api.client()
    expected = r"paging loop: page 2 holds the same records as page 1"
    with pytest.raises(FatalAPIError, match=expected):
        client.fetch_all_customers()


def test_loop_detection_also_guards_sequential_paging() -> None:
    """Without total_pages, a server answering page 1 forever is stopped at page 2."""
    first = FakeAPI(people(6)).body(1)["data"]
    api = FakeAPI(people(6), tweak=lambda page, body: {"page": page, "data": first})
    client, _, _ = api.client()
    with pytest.raises(FatalAPIError, match="paging loop"):
        client.fetch_all_customers()
    assert len(api.requests) == 2


def test_max_pages_guard() -> None:
    """An API with more pages than max_pages fails before fetching them."""
    sim = make_sim(customers=100)
    with pytest.raises(FatalAPIError, match=r"more than max_pages=10 pages"):
        sim.fetch(per_page=6, max_pages=10)
    assert sim.stats()["requests"] == 1


def test_max_pages_guard_in_sequential_paging() -> None:
    """Without total_pages, paging stops with an error at max_pages."""
    api = FakeAPI(people(60), tweak=lambda page, body: {"page": page, "data": body["data"]})
    client, _, _ = api.client(max_pages=4)
    with pytest.raises(FatalAPIError, match="max_pages=4"):
        client.fetch_all_customers()
    assert len(api.requests) == 4


def test_echoed_page_mismatch_is_fatal() -> None:
    """A body that answers for another page than the one requested is refused, not retried."""
    api = FakeAPI(people(20), tweak=lambda page, body: {**body, "page": 1} if page == 3 else None)
    client, _, _ = api.client()
    with pytest.raises(FatalAPIError, match=r"^page 3: the API answered for page 1"):
        client.fetch_all_customers()
    assert [int(r.url.params["page"]) for r in api.requests].count(3) == 1


def test_count_mismatch_that_stays_is_an_incomplete_sync() -> None:
    """Fewer records than total on two passes that agree raise IncompleteSyncError."""
    api = FakeAPI(people(12), tweak=lambda page, body: {**body, "total": 13})
    client, _, events = api.client()
    with pytest.raises(IncompleteSyncError, match=r"received 12 records but the API reports"):
        client.fetch_all_customers()
    assert client.stats.drift_detected
    assert [e.name for e in events].count("recheck_started") == 1


# -- drift ----------------------------------------------------------------------------------
def final_ids(sim: Sim) -> set[int | None]:
    view = sim.simulator.view
    return {usable_id(r.get("id")) for r in view.records(0, len(view))}


def test_delete_drift_is_detected_and_the_shifted_record_recovered() -> None:
    """A deletion mid-sync is reported, and re-fetching recovers the record it shifted."""
    sim = make_sim(customers=60, seed=3, drift="delete", drift_max_events=1)
    records, stats = sim.fetch(per_page=6)
    ids = {usable_id(r.get("id")) for r in records}
    assert final_ids(sim) <= ids
    assert stats.drift_detected
    assert stats.drift_events[0].startswith("pass 0: total went from 60 (10 pages) to 59")
    assert stats.refetched_pages == 10  # one clean re-check pass settles it
    assert sim.named("drift_detected")
    assert stats.reported_total == 59


def test_insert_drift_is_detected_and_the_new_record_fetched() -> None:
    """An insertion mid-sync is reported (shifted record seen twice) and the new id fetched."""
    sim = make_sim(customers=60, seed=3, drift="insert", drift_max_events=1)
    records, stats = sim.fetch(per_page=6)
    ids = {usable_id(r.get("id")) for r in records}
    assert final_ids(sim) <= ids
    assert stats.drift_detected
    assert any("records shifted across 1 page boundary" in e for e in stats.drift_events)
    assert stats.reported_total == 61


@pytest.mark.parametrize("mode", ["insert", "delete"])
def test_drift_that_never_settles_raises_after_the_bound(mode: str) -> None:
    """Data that keeps moving through max_drift_passes re-checks ends in IncompleteSyncError."""
    sim = make_sim(customers=60, seed=3, drift=mode)
    with pytest.raises(IncompleteSyncError) as caught:
        sim.fetch(per_page=6, max_drift_passes=2)
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith("sync incomplete: the data kept changing through 2")
    assert len(sim.named("recheck_started")) == 2


def test_drift_without_recheck_passes_is_never_silent() -> None:
    """With max_drift_passes=0 a drifted pass raises at once instead of finishing short."""
    sim = make_sim(customers=60, seed=3, drift="delete", drift_max_events=1)
    with pytest.raises(IncompleteSyncError):
        sim.fetch(per_page=6, max_drift_passes=0)


def test_exact_duplicate_across_a_page_boundary_is_not_drift() -> None:
    """A data set's own duplicate straddling two pages re-fetches those two pages only."""
    rows = people(12)
    rows.insert(6, dict(rows[5]))  # record 6 repeated as the first record of page 2
    api = FakeAPI(rows)
    client, _, events = api.client()
    records = client.fetch_all_customers()
    assert Counter(map(canonical, records)) == Counter(map(canonical, rows))
    assert not client.stats.drift_detected
    assert [e.name for e in events].count("drift_suspected") == 1
    assert client.stats.drift_events[0].startswith("pass 0: suspected: records shifted")
    assert "unchanged" in client.stats.drift_events[1]
    assert sorted(int(r.url.params["page"]) for r in api.requests) == [1, 1, 2, 2, 3]
    assert client.stats.refetched_pages == 2
    (recheck,) = [e for e in events if e.name == "recheck_started"]
    assert recheck.fields["pages"] == "1,2"


# -- concurrency and rate limits ------------------------------------------------------------
def test_concurrency_is_bounded_as_counted_by_the_server() -> None:
    """The server never sees more requests in flight than the concurrency setting."""
    with loopback(customers=120, latency_ms=30) as server:
        client = loopback_client(server, per_page=5, concurrency=3)
        records = client.fetch_all_customers()
        snapshot = idle_snapshot(server)
    assert len(records) == 120
    assert snapshot["max_in_flight"] == 3


def test_slow_retries_do_not_hold_up_other_pages() -> None:
    """While one page waits out its backoff, every other page is fetched."""
    calls = Counter[int]()
    order: list[int] = []
    others_done = asyncio.Event()

    def tweak(page: int, body: dict[str, Any]) -> httpx.Response | None:
        calls[page] += 1
        if page == 2 and calls[page] == 1:
            return httpx.Response(503)
        order.append(page)
        if len(order) == 9:
            others_done.set()
        return None

    async def sleep_until_the_others_are_done(seconds: float) -> None:
        await others_done.wait()

    api = FakeAPI(people(60), per_page=6, tweak=tweak)
    client = make_client(
        BASE,
        transport=httpx.MockTransport(api),
        sleep=sleep_until_the_others_are_done,
        concurrency=2,
    )
    assert len(client.fetch_all_customers()) == 60
    assert order[-1] == 2


def test_a_due_retry_goes_out_before_pages_not_tried_yet() -> None:
    """Once its backoff is over, a retry waits behind at most the request already next."""
    sent: list[int] = []
    page_ten = asyncio.Event()
    due_at: list[int] = []

    def fail_page_two_once(page: int, body: dict[str, Any]) -> httpx.Response | None:
        return httpx.Response(503) if page == 2 and sent.count(2) == 1 else None

    api = FakeAPI(people(40), per_page=2, tweak=fail_page_two_once)

    async def on_the_wire(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        sent.append(page)
        if page == 10:
            page_ten.set()
        for _ in range(3):  # a few turns of the event loop, so that a line forms
            await asyncio.sleep(0)
        return api(request)

    async def backoff_until_page_ten(seconds: float) -> None:
        await page_ten.wait()
        due_at.append(len(sent))

    client = make_client(
        BASE,
        transport=httpx.MockTransport(on_the_wire),
        sleep=backoff_until_page_ten,
        per_page=2,
        concurrency=2,
    )
    assert len(client.fetch_all_customers()) == 40
    (due,) = due_at
    retry = due + sent[due:].index(2)
    assert retry - due <= 1, sent
    assert len(sent) - retry > 4, sent  # first attempts were still waiting behind it


def test_client_rate_limit_paces_requests() -> None:
    """rate_limit=4 req/s spaces requests 0.25 s apart (after a burst of 1)."""
    client, fake, _ = FakeAPI(people(24), per_page=6).client(rate_limit=4.0, concurrency=1)
    client.fetch_all_customers()
    assert fake.sleeps == [0.25, 0.25, 0.25]


@pytest.mark.parametrize(
    ("rate", "burst", "slowest", "most_429s"),
    [
        (5.0, 3, 1.2, 3),
        (10.0, 5, 1.2, 3),
        # A burst of 1 shows no usable Remaining (always 0): the CUBIC curve finds the
        # rate by probing. Two 429s are unavoidable (pages 2 and 3 go out together right
        # after page 1 took the only token), then each probe above 2 req/s costs one
        # (about one per hold + K, 2.5 s here). On FakeTime this case needed 25 429s and
        # 2.2x: its sleeps add up and its clock moves while a request is on its way.
        (2.0, 1, 1.35, 18),
    ],
)
def test_adapts_to_the_server_rate_limit_with_few_429s(
    rate: float, burst: int, slowest: float, most_429s: int
) -> None:
    """Against a server limited to R req/s the client learns R: few 429s, close to R.

    On virtual time: client and simulator share an event loop whose clock jumps to the
    next timer, so requests meet the server's bucket when they would in real time.
    """
    loop = VirtualTimeLoop()
    events: list[Event] = []

    def wall() -> float:
        return NOW.timestamp() + loop.time()

    app = create_app(
        SimulatorConfig(
            customers=240, rate_limit=rate, burst=burst, fault_rate=0.0, now=NOW,
            clock=loop.time, wall_clock=wall, sleep=asyncio.sleep,
        )
    )
    client = make_client(
        BASE, transport=httpx.ASGITransport(app=app), sleep=asyncio.sleep, clock=loop.time,
        wall_clock=wall, random=random.Random(7), hook=events.append, jitter=0.0,
        per_page=6, concurrency=2,
    )
    records = loop.run(client.afetch_all_customers())
    assert len(records) == 240
    assert client.stats.rate_limited <= most_429s
    assert any(e.name == "rate_limit_adapting" for e in events)
    assert loop.time() <= 40 / rate * slowest


def test_a_rewalk_asks_for_every_page_beside_page_1() -> None:
    """A hard-drift re-walk knows the page count from the pass before: pages 2..N go out
    beside page 1, so a page 1 failing in the re-walk does not hold the pass up."""
    calls: Counter[int] = Counter()

    def tweak(page: int, body: dict[str, Any]) -> httpx.Response | dict[str, Any] | None:
        calls[page] += 1
        if page == 2 and calls[page] == 1:
            return {**body, "total": body["total"] + 1}  # totals changed: a hard signal
        if page == 1 and calls[page] == 2:
            return httpx.Response(503)  # the re-walk's page 1 fails once
        return None

    api = FakeAPI(people(60), tweak=tweak)
    client, _, _ = api.client(concurrency=4)
    assert len(client.fetch_all_customers()) == 120
    rewalk = [int(r.url.params["page"]) for r in api.requests[10:]]
    assert rewalk[:4] == [1, 2, 3, 4]  # beside page 1, not after it
    assert sorted(rewalk) == [1, 1, *range(2, 11)]
    assert client.stats.retries == {"http_503": 1}


# -- cache ----------------------------------------------------------------------------------
def test_second_run_with_the_cache_revalidates_and_serves_from_cache(tmp_path: Path) -> None:
    """A re-run over unchanged data sends If-None-Match, gets 304s and uses the cache."""
    sim = make_sim(customers=30)
    first, stats1 = sim.fetch(per_page=10, cache_dir=tmp_path)
    assert stats1.cache_hits == 0
    second, stats2 = sim.fetch(per_page=10, cache_dir=tmp_path)
    assert Counter(map(canonical, second)) == Counter(map(canonical, first))
    assert sim.stats()["not_modified"] == 3
    assert stats2.cache_hits == 3
    assert {e["from_cache"] for e in sim.named("page_fetched")[-3:]} == {True}


def test_cache_never_stores_a_bad_body(tmp_path: Path) -> None:
    """Truncated 200s are retried and never cached, so a cached re-run is whole."""
    sim = make_sim(customers=30, seed=4, fault_rate=0.5, fault_kinds=("truncated",))
    sim.fetch(per_page=10, cache_dir=tmp_path)
    assert sim.stats()["faults"]["truncated"] > 0
    entries = [json.loads(path.read_text()) for path in tmp_path.glob("*.json")]
    assert sorted(len(entry["body"]["data"]) for entry in entries) == [10, 10, 10]
    again, stats = sim.fetch(per_page=10, cache_dir=tmp_path)
    assert Counter(map(canonical, again)) == served(sim.simulator.dataset)
    assert stats.cache_hits == 3


def test_cache_is_off_by_default(tmp_path: Path) -> None:
    """Without cache_dir no request is conditional."""
    sim = make_sim(customers=12)
    sim.fetch()
    sim.fetch()
    assert sim.stats()["not_modified"] == 0


# -- secrets, headers, redirects --------------------------------------------------------------
def test_headers_carry_user_agent_and_api_key() -> None:
    """Every request names the pipeline and its version, and carries x-api-key."""
    api = FakeAPI(people(6))
    client, _, _ = api.client(api_key="k-123")
    client.fetch_all_customers()
    request = api.requests[0]
    assert request.headers["user-agent"] == f"customer-sync-pipeline/{__version__}"
    assert request.headers["x-api-key"] == "k-123"


def test_no_api_key_header_without_a_key() -> None:
    """Without a key no x-api-key header is sent."""
    api = FakeAPI(people(6))
    client, _, _ = api.client()
    client.fetch_all_customers()
    assert "x-api-key" not in api.requests[0].headers


@pytest.mark.parametrize(
    ("target", "keeps_key"),
    [
        ("http://elsewhere.test/api/users?page=1&per_page=6", False),
        ("https://sim.test/api/users?page=1&per_page=6", False),
        ("http://sim.test:8080/api/users?page=1&per_page=6", False),
        ("http://sim.test/api/v2/users?page=1&per_page=6", True),
    ],
)
def test_redirect_to_another_origin_drops_the_api_key(target: str, keeps_key: bool) -> None:
    """x-api-key follows a redirect only to the same scheme, host and port."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            return httpx.Response(302, headers={"Location": target})
        return httpx.Response(200, json=FakeAPI(people(3)).body(1))

    client = make_client(BASE, "k-secret", transport=httpx.MockTransport(handler))
    assert len(client.fetch_all_customers()) == 3
    assert seen[0].headers["x-api-key"] == "k-secret"
    assert ("x-api-key" in seen[1].headers) is keeps_key


def test_api_key_never_appears_in_repr_events_errors_or_cache(tmp_path: Path) -> None:
    """The key stays out of the repr, every event, every error and the cache files."""
    key = "sk-live-supersecret"
    sim = make_sim(customers=12, api_key=key, fault_rate=0.5, fault_kinds=("5xx", "429"))
    client = sim.client(key, cache_dir=tmp_path)
    assert key not in repr(client)
    client.fetch_all_customers()
    assert key not in repr(sim.events)
    assert all(key not in path.read_text() for path in tmp_path.iterdir())
    bad = sim.client("sk-live-wrong", cache_dir=tmp_path)
    with pytest.raises(AuthError) as caught:
        bad.fetch_all_customers()
    assert "sk-live-wrong" not in repr(caught.value) + str(caught.value)


def test_a_server_echoing_the_key_in_its_error_is_scrubbed() -> None:
    """If the API's error text quotes the key, the error shows *** instead."""
    api = FakeAPI(
        people(6), tweak=lambda page, body: httpx.Response(401, json={"error": "bad key k-123"})
    )
    client, _, _ = api.client(api_key="k-123")
    with pytest.raises(AuthError, match=r"bad key \*\*\*") as caught:
        client.fetch_all_customers()
    assert "k-123" not in str(caught.value)


def test_query_of_the_base_url_is_kept_beside_the_page_parameters() -> None:
    """A base URL with its own query keeps it; page and per_page are added to it."""
    api = FakeAPI(people(6))
    client = make_client("http://sim.test/api?tenant=7", transport=httpx.MockTransport(api))
    client.fetch_all_customers()
    assert api.requests[0].url.path == "/api/users"
    assert dict(api.requests[0].url.params) == {"tenant": "7", "page": "1", "per_page": "100"}


def test_secret_query_parameters_are_masked_in_errors() -> None:
    """A key passed in the base URL's query is masked wherever the URL is shown."""
    api = FakeAPI(people(6), tweak=lambda page, body: httpx.Response(404))
    client = make_client(
        "http://sim.test/api?api_key=topsecret", transport=httpx.MockTransport(api)
    )
    with pytest.raises(FatalAPIError) as caught:
        client.fetch_all_customers()
    assert "topsecret" not in str(caught.value)
    assert "topsecret" not in repr(client)


# -- page store (checkpoint seam) -------------------------------------------------------------
def test_pages_in_the_store_are_used_not_fetched() -> None:
    """Stored pages are yielded as from_checkpoint and never requested again."""
    sim = make_sim(customers=30)
    store = InMemoryPageStore()
    sim.fetch(per_page=6, page_store=store)
    assert sorted(store.pages) == [1, 2, 3, 4, 5]
    del store.pages[4]
    before = sim.stats()["per_page_requests"]
    records, stats = sim.fetch(per_page=6, page_store=store)
    after = sim.stats()["per_page_requests"]
    assert len(records) == 30
    assert {p: after[p] - before[p] for p in after} == {1: 1, 2: 0, 3: 0, 4: 1, 5: 0}
    assert stats.pages_from_checkpoint == 3
    assert stats.resumed


def test_store_of_another_identity_is_not_used() -> None:
    """A store whose identity (url, per_page, total) differs is discarded at sync start."""
    sim = make_sim(customers=30)
    store = InMemoryPageStore(
        pages={2: {"page": 2, "data": [{"id": 999}]}},
        identity=StoreIdentity(BASE, 6, 31),
    )
    records, stats = sim.fetch(per_page=6, page_store=store)
    assert all(r.get("id") != 999 for r in records)
    assert stats.pages_from_checkpoint == 0
    assert store.identity == StoreIdentity(BASE, 6, 30)


# -- stats and settings -----------------------------------------------------------------------
def test_run_stats_account_for_the_sync() -> None:
    """Run stats count pages, requests, retries by cause, 429s, waits, bytes and duration."""
    sim = make_sim(customers=60, seed=9, fault_rate=0.3, fault_kinds=("5xx", "429"))
    records, stats = sim.fetch(per_page=6)
    snapshot = sim.stats()
    assert stats.records == len(records) == 60
    assert stats.pages == 10
    assert stats.requests == snapshot["requests"]
    assert stats.rate_limited == snapshot["by_status"].get(429, 0)
    assert sum(stats.retries.values()) == snapshot["requests"] - 10
    assert stats.waited_seconds == pytest.approx(sum(sim.time.sleeps))
    assert stats.duration_seconds == pytest.approx(sim.time.now)
    finished = sim.named("sync_finished")
    assert finished[0]["records"] == 60


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"per_page": 0}, "per_page .*must be >= 1"),
        ({"concurrency": 2.5}, "concurrency .*must be an integer"),
        ({"read_timeout": 0}, "read_timeout .*must be > 0"),
        ({"jitter": -0.1}, "jitter .*must be >= 0"),
        ({"backoff_factor": 0.5}, "backoff_factor .*must be >= 1"),
        ({"rate_limit": 0}, "rate_limit .*must be > 0"),
        ({"max_retries": float("nan")}, "max_retries .*must be finite"),
        ({"verify_tls": "maybe"}, "verify_tls .*must be true or false"),
        ({"user_agent": "two\nlines"}, "user_agent"),
        ({"retries": 3}, "unknown setting 'retries'"),
    ],
)
def test_invalid_settings_are_refused(settings: dict[str, Any], message: str) -> None:
    """Each invalid client setting fails at construction with one line naming it."""
    with pytest.raises(ConfigError, match=message):
        ClientSettings(**settings)


@pytest.mark.parametrize("url", ["sim.test/api", "ftp://sim.test/api", "http://"])
def test_invalid_base_url_is_refused(url: str) -> None:
    """A base URL that is not http(s)://host/... is a ConfigError."""
    with pytest.raises(ConfigError, match="invalid API URL"):
        make_client(url)
