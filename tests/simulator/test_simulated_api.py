"""The simulated customer API: contract, data, faults, rate limits, drift and runners."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import socket
import subprocess
import sys
import time
import tracemalloc
from datetime import timedelta
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

import customer_sync.simulated_api as simulated_api
from customer_sync.errors import ConfigError
from customer_sync.simulated_api import (
    FAULT_KINDS,
    UNLIMITED,
    GeneratedDataset,
    SimulatedConnectionReset,
    SimulatedServer,
    SimulatorConfig,
    create_app,
    demo_dataset,
    usable_id,
)
from customer_sync.simulated_api.cli import build_parser, config_from_args, main
from customer_sync.simulated_api.conditional import if_none_match
from customer_sync.simulated_api.drift import DriftView
from customer_sync.simulated_api.faults import FaultInjector
from customer_sync.simulated_api.paging import PagingError, parse_paging
from customer_sync.simulated_api.ratelimit import TokenBucket
from customer_sync.simulated_api.spellings import timestamp
from tests.simulator_support import (
    NOW,
    WALL,
    FakeClock,
    GatedSleeper,
    Sleeper,
    client_for,
    config,
    fetch,
    fetch_all,
    fetch_cfg,
    wait_idle,
)

ROOT = Path(__file__).resolve().parents[2]
DAY = 86_400
NOW_S = int(NOW.timestamp())


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# --------------------------------------------------------------------------------------
# Public surface


def test_exports_are_pinned() -> None:
    """The package re-exports exactly its documented public names."""
    assert set(simulated_api.__all__) == {
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
    }


def test_config_defaults_match_the_spec() -> None:
    """The defaults are the demo: 12 users, 20% 5xx faults, per_page 6 capped at 100."""
    c = SimulatorConfig()
    assert (c.customers, c.seed, c.fault_rate, c.fault_kinds) == (None, 0, 0.2, ("5xx",))
    assert (c.rate_limit, c.burst, c.latency_ms, c.latency_jitter) == (0.0, 10, 0.0, 0.0)
    assert (c.api_key, c.max_per_page, c.default_per_page, c.drift) == (None, 100, 6, "none")
    assert (c.max_consecutive_failures, c.base_path) == (3, "/api")
    assert (c.duplicate_rate, c.bad_record_rate) == (0.02, 0.01)


def test_config_repr_hides_the_api_key() -> None:
    """The API key never appears in the config's repr."""
    assert "s3cret-key" not in repr(SimulatorConfig(api_key="s3cret-key"))


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"fault_rate": 1.5}, "fault_rate"),
        ({"fault_rate": -0.1}, "fault_rate"),
        ({"fault_kinds": ("5xx", "gremlins")}, "gremlins"),
        ({"fault_kinds": ()}, "fault_kinds"),
        ({"max_per_page": 0}, "max_per_page"),
        ({"default_per_page": 0}, "default_per_page"),
        ({"drift": "sideways"}, "drift"),
        ({"drift_every": 0}, "drift_every"),
        ({"burst": 0}, "burst"),
        ({"rate_limit": -1.0}, "rate_limit"),
        ({"latency_jitter": 2.0}, "latency_jitter"),
        ({"customers": -5}, "customers"),
        ({"duplicate_rate": 0.8, "bad_record_rate": 0.5}, "at most 1"),
        ({"max_consecutive_failures": 0}, "max_consecutive_failures"),
        ({"error_statuses": (404,)}, "error_statuses"),
        ({"base_path": "api/"}, "base_path"),
        ({"api_key": ""}, "api_key"),
    ],
)
def test_invalid_config_is_a_config_error(overrides: dict[str, Any], needle: str) -> None:
    """An invalid setting raises ConfigError (exit 2) naming the setting."""
    with pytest.raises(ConfigError) as info:
        SimulatorConfig(**overrides)
    assert needle in str(info.value)
    assert info.value.exit_code == 2


# --------------------------------------------------------------------------------------
# The list endpoint: shape and pagination


@pytest.mark.anyio
async def test_page_has_the_reqres_shape() -> None:
    """GET /api/users answers 200 with page, per_page, total, total_pages, data, support."""
    response = await fetch_cfg("/api/users")
    body = response.json()
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert list(body) == ["page", "per_page", "total", "total_pages", "data", "support"]
    assert (body["page"], body["per_page"], body["total"], body["total_pages"]) == (1, 6, 16, 3)
    assert set(body["support"]) == {"url", "text"}
    assert [r["id"] for r in body["data"]] == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize(
    ("query", "max_per_page", "page", "per_page", "ids"),
    [
        ("", 100, 1, 6, [1, 2, 3, 4, 5, 6]),
        ("?page=2", 100, 2, 6, [7, 8, 9, 10, 11, 12]),
        ("?page=3", 100, 3, 6, [3, 13, None, "14"]),
        ("?page=4", 100, 4, 6, []),
        ("?page=999999999", 100, 999999999, 6, []),
        ("?page=2&per_page=5", 100, 2, 5, [6, 7, 8, 9, 10]),
        ("?per_page=100", 100, 1, 100, [*range(1, 13), 3, 13, None, "14"]),
        ("?per_page=500", 100, 1, 100, [*range(1, 13), 3, 13, None, "14"]),
        ("?per_page=10", 4, 1, 4, [1, 2, 3, 4]),
        ("?page=%202%20", 100, 2, 6, [7, 8, 9, 10, 11, 12]),
    ],
)
@pytest.mark.anyio
async def test_pagination_edges(
    query: str, max_per_page: int, page: int, per_page: int, ids: list[Any]
) -> None:
    """per_page defaults to 6 and is capped; a page past the end is 200 with no data."""
    response = await fetch_cfg(f"/api/users{query}", max_per_page=max_per_page)
    body = response.json()
    assert response.status_code == 200
    assert (body["page"], body["per_page"], body["total"]) == (page, per_page, 16)
    assert body["total_pages"] == math.ceil(16 / per_page)
    assert [r.get("id") for r in body["data"]] == ids


@pytest.mark.parametrize(
    "query",
    [
        "page=0",
        "page=-1",
        "page=abc",
        "page=1.5",
        "page=",
        "page=1e3",
        "page=%D9%A3",  # Arabic-Indic digit three: not ASCII
        "page=12345678901234567890",
        "per_page=0",
        "per_page=x",
        "per_page=-6",
    ],
)
@pytest.mark.anyio
async def test_bad_paging_parameters_are_400(query: str) -> None:
    """A page or per_page that is not a positive integer is 400 with a JSON error."""
    response = await fetch_cfg(f"/api/users?{query}")
    assert response.status_code == 400
    assert set(response.json()) == {"error"}
    assert "page" in response.json()["error"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, (1, 6)),
        ({"page": "3"}, (3, 6)),
        ({"per_page": "250"}, (1, 100)),
        ({"page": " 7 ", "per_page": "1"}, (7, 1)),
    ],
)
def test_parse_paging_table(query: dict[str, str], expected: tuple[int, int]) -> None:
    """parse_paging fills defaults, strips spaces and caps per_page."""
    assert parse_paging(query, default_per_page=6, max_per_page=100) == expected


def test_parse_paging_refuses_zero() -> None:
    """parse_paging raises PagingError for page 0."""
    with pytest.raises(PagingError, match="at least 1"):
        parse_paging({"page": "0"}, default_per_page=6, max_per_page=100)


@pytest.mark.parametrize("base_path", ["/api", "/v2/api", ""])
@pytest.mark.anyio
async def test_base_path_is_configurable(base_path: str) -> None:
    """Routes live under base_path; other paths are 404."""
    app = create_app(config(base_path=base_path))
    ok, other = await fetch_all(app, [f"{base_path}/users", "/nope/users"])
    assert (ok.status_code, other.status_code) == (200, 404)


# --------------------------------------------------------------------------------------
# Single users, auth, ETags, rate-limit headers


@pytest.mark.parametrize(
    ("path", "status", "expected_id"),
    [
        ("/api/users/1", 200, 1),
        ("/api/users/12", 200, 12),
        ("/api/users/13", 200, 13),
        ("/api/users/14", 200, "14"),
        ("/api/users/15", 404, None),
        ("/api/users/0", 404, None),
        ("/api/users/abc", 404, None),
        ("/api/users/99999999999999999999999", 404, None),
    ],
)
@pytest.mark.anyio
async def test_single_user(path: str, status: int, expected_id: Any) -> None:
    """GET /users/{id} answers {"data": customer}, or 404 with {} as reqres does."""
    response = await fetch_cfg(path)
    assert response.status_code == status
    if status == 200:
        assert response.json()["data"]["id"] == expected_id
        assert "etag" in response.headers
    else:
        assert response.json() == {}


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"x-api-key": "wrong"}, 401),
        ({"x-api-key": "s3cret "}, 401),
        ({"authorization": "Bearer s3cret"}, 401),
        ({"x-api-key": "s3cret"}, 200),
        ({"X-API-KEY": "s3cret"}, 200),
    ],
)
@pytest.mark.parametrize("path", ["/api/users?page=2", "/api/users/2"])
@pytest.mark.anyio
async def test_api_key_is_required_when_configured(
    path: str, headers: dict[str, str], status: int
) -> None:
    """With an API key, a request without the matching x-api-key is 401 Missing API key."""
    app = create_app(config(api_key="s3cret"))
    response = await fetch(app, path, headers=headers)
    assert response.status_code == status
    if status == 401:
        assert response.json() == {"error": "Missing API key"}


@pytest.mark.anyio
async def test_no_api_key_configured_means_open() -> None:
    """Without an API key any request is served, with or without the header."""
    app = create_app(config())
    a, b = await fetch_all(app, ["/api/users", "/api/users"], headers={"x-api-key": "x"})
    assert (a.status_code, b.status_code) == (200, 200)


@pytest.mark.parametrize(
    ("if_none_match_value", "status"),
    [
        ("{etag}", 304),
        ("W/{etag}", 304),
        ('"other", {etag}', 304),
        ("*", 304),
        ('"other"', 200),
        ("", 200),
    ],
)
@pytest.mark.parametrize("path", ["/api/users?page=2", "/api/users/3"])
@pytest.mark.anyio
async def test_etag_and_if_none_match(path: str, if_none_match_value: str, status: int) -> None:
    """Every page has an ETag; If-None-Match with it is 304 with no body."""
    app = create_app(config())
    async with client_for(app) as client:
        first = await client.get(path)
        etag = first.headers["etag"]
        header = if_none_match_value.format(etag=etag)
        second = await client.get(path, headers={"if-none-match": header})
    assert etag.startswith('"')
    assert etag.endswith('"')
    assert second.status_code == status
    assert second.headers["etag"] == etag
    if status == 304:
        assert second.content == b""
    else:
        assert second.content == first.content


@pytest.mark.anyio
async def test_etag_differs_between_pages() -> None:
    """Different pages have different ETags."""
    one, two = await fetch_all(create_app(config()), ["/api/users?page=1", "/api/users?page=2"])
    assert one.headers["etag"] != two.headers["etag"]


@pytest.mark.parametrize(
    ("header", "etag", "matches"),
    [
        (None, '"a"', False),
        ('"a"', '"a"', True),
        ('W/"a"', '"a"', True),
        ('"b" , "a"', '"a"', True),
        ('"b"', '"a"', False),
        ("*", '"a"', True),
    ],
)
def test_if_none_match_table(header: str | None, etag: str, matches: bool) -> None:
    """If-None-Match matches by weak comparison, in lists, and with *."""
    assert if_none_match(header, etag) is matches


@pytest.mark.parametrize(
    ("overrides", "path", "request_headers", "status"),
    [
        ({}, "/api/users", {}, 200),
        ({}, "/api/users?page=0", {}, 400),
        ({}, "/api/users/999", {}, 404),
        ({"api_key": "k"}, "/api/users", {}, 401),
        ({"fault_rate": 1.0}, "/api/users", {}, None),
        ({"fault_rate": 1.0, "fault_kinds": ("429",)}, "/api/users", {}, 429),
        ({"fault_rate": 1.0, "fault_kinds": ("truncated",)}, "/api/users", {}, 200),
        ({"rate_limit": 5.0, "burst": 3}, "/api/users", {}, 200),
    ],
)
@pytest.mark.anyio
async def test_rate_limit_headers_on_every_answer(
    overrides: dict[str, Any], path: str, request_headers: dict[str, str], status: int | None
) -> None:
    """Every answer carries X-RateLimit-Limit, -Remaining and -Reset."""
    response = await fetch_cfg(path, **overrides)
    if status is not None:
        assert response.status_code == status
    for name in ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"):
        assert response.headers[name].isdigit()


@pytest.mark.anyio
async def test_unlimited_rate_limit_headers() -> None:
    """With no rate limit the headers report the UNLIMITED constant and reset 0."""
    response = await fetch_cfg("/api/users")
    assert response.headers["x-ratelimit-limit"] == str(UNLIMITED)
    assert response.headers["x-ratelimit-remaining"] == str(UNLIMITED)
    assert response.headers["x-ratelimit-reset"] == "0"


# --------------------------------------------------------------------------------------
# Token bucket


@pytest.mark.anyio
async def test_token_bucket_answers_429_then_recovers() -> None:
    """Past the burst, requests get 429 with Retry-After until the clock refills a token."""
    clock = FakeClock()
    app = create_app(config(rate_limit=2.0, burst=3, clock=clock))
    async with client_for(app) as client:
        answers = [await client.get("/api/users") for _ in range(4)]
        clock.advance(0.5)
        after = await client.get("/api/users")
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert [r.headers["x-ratelimit-remaining"] for r in answers] == ["2", "1", "0", "0"]
    assert [r.headers["x-ratelimit-limit"] for r in answers] == ["3"] * 4
    assert answers[2].headers["x-ratelimit-reset"] == "2"  # 3 tokens at 2/s
    assert answers[3].json() == {"error": "Too Many Requests"}
    assert "retry-after" in answers[3].headers
    assert after.status_code == 200
    assert app.state.simulator.stats.snapshot()["rate_limited"] == 1


@pytest.mark.anyio
async def test_token_bucket_retry_after_uses_both_forms() -> None:
    """Bucket 429s spell Retry-After as seconds or as an HTTP-date, both deterministic."""
    app = create_app(config(rate_limit=0.5, burst=1, clock=FakeClock()))
    async with client_for(app) as client:
        answers = [await client.get("/api/users") for _ in range(12)]
    values = {r.headers["retry-after"] for r in answers[1:]}
    assert values == {"2", formatdate(math.ceil(WALL + 2), usegmt=True)}


@pytest.mark.parametrize(
    ("rate", "burst", "steps", "expected"),
    [
        (1.0, 1, [0, 0, 1, 0], [True, False, True, False]),
        (10.0, 2, [0, 0, 0, 0.1], [True, True, False, True]),
        (0.0, 1, [0, 0, 0, 0], [True, True, True, True]),
        (2.0, 2, [0, 0, 5, 0, 0], [True, True, True, True, False]),
    ],
)
def test_token_bucket_table(
    rate: float, burst: int, steps: list[float], expected: list[bool]
) -> None:
    """The bucket refills at rate tokens/s up to burst, on the injected clock."""
    clock = FakeClock()
    bucket = TokenBucket(rate, burst, clock)
    allowed = []
    for step in steps:
        clock.advance(step)
        allowed.append(bucket.acquire().allowed)
    assert allowed == expected


def test_token_bucket_retry_after_is_time_to_next_token() -> None:
    """A refused request's retry_after is the whole seconds until one token (at least 1)."""
    bucket = TokenBucket(0.25, 1, FakeClock())
    bucket.acquire()
    decision = bucket.acquire()
    assert (decision.allowed, decision.retry_after, decision.reset) == (False, 4, 4)


# --------------------------------------------------------------------------------------
# Faults


async def _statuses(app: Any, paths: list[str]) -> list[int]:
    return [r.status_code for r in await fetch_all(app, paths)]


@pytest.mark.anyio
async def test_5xx_faults_use_every_status_with_json_and_html_bodies() -> None:
    """5xx faults answer 500/502/503/504, some with JSON and some with HTML bodies."""
    app = create_app(config(fault_rate=1.0, max_consecutive_failures=None))
    answers = await fetch_all(app, [f"/api/users?page={p}" for p in range(1, 41)])
    assert {r.status_code for r in answers} == {500, 502, 503, 504}
    kinds = {r.headers["content-type"].split(";")[0] for r in answers}
    assert kinds == {"application/json", "text/html"}
    for r in answers:
        if r.headers["content-type"] == "application/json":
            assert r.json()["status"] == r.status_code
        else:
            assert f"<h1>{r.status_code} " in r.text


@pytest.mark.anyio
async def test_429_fault_retry_after_in_seconds_and_http_date() -> None:
    """429 faults carry Retry-After as delta-seconds or as the HTTP-date that far ahead."""
    app = create_app(
        config(fault_rate=1.0, fault_kinds=("429",), retry_after_seconds=2, rate_limit=0.0)
    )
    answers = await fetch_all(app, [f"/api/users?page={p}" for p in range(1, 21)])
    assert {r.status_code for r in answers} == {429}
    values = {r.headers["retry-after"] for r in answers}
    http_date = formatdate(math.ceil(WALL + 2), usegmt=True)
    assert values == {"2", http_date}
    waited = parsedate_to_datetime(http_date).timestamp() - WALL
    assert 2 <= waited < 3
    details = app.state.simulator.stats.snapshot()["fault_details"]
    assert set(details) == {"http_429_seconds", "http_429_date"}


@pytest.mark.anyio
async def test_truncated_fault_is_a_200_with_a_cut_json_prefix() -> None:
    """A truncated answer is 200 whose body is a strict prefix of the real page."""
    app = create_app(config(fault_rate=1.0, fault_kinds=("truncated",)))
    response = await fetch(app, "/api/users?page=2")
    full, _ = app.state.simulator.page_body(2, 6)
    assert response.status_code == 200
    assert 0 < len(response.content) < len(full)
    assert full.startswith(response.content)
    assert response.headers["content-length"] == str(len(response.content))
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


@pytest.mark.anyio
async def test_invalid_json_fault_bodies_do_not_parse() -> None:
    """An invalid-JSON answer is 200 application/json whose body is not JSON."""
    app = create_app(
        config(fault_rate=1.0, fault_kinds=("invalid_json",), max_consecutive_failures=None)
    )
    answers = await fetch_all(app, [f"/api/users?page={p}" for p in range(1, 16)])
    assert len({r.content for r in answers}) >= 3
    for r in answers:
        assert (r.status_code, r.headers["content-type"]) == (200, "application/json")
        with pytest.raises((json.JSONDecodeError, UnicodeDecodeError)):
            json.loads(r.content)


@pytest.mark.parametrize("kind", ["reset", "reset_mid_body"])
@pytest.mark.anyio
async def test_reset_without_a_socket_raises_read_error(kind: str) -> None:
    """Under ASGITransport a reset raises SimulatedConnectionReset, an httpx.ReadError."""
    app = create_app(config(fault_rate=1.0, fault_kinds=(kind,)))
    with pytest.raises(httpx.ReadError) as info:
        await fetch(app, "/api/users")
    assert isinstance(info.value, SimulatedConnectionReset)
    snap = app.state.simulator.stats.snapshot()
    assert (snap["no_response"], snap["faults"][kind], snap["in_flight"]) == (1, 1, 0)


@pytest.mark.anyio
async def test_stall_waits_stall_seconds_then_answers() -> None:
    """A stall sleeps stall_seconds through the injected sleep, then answers normally."""
    sleeper = Sleeper()
    app = create_app(
        config(fault_rate=1.0, fault_kinds=("stall",), stall_seconds=7.5, sleep=sleeper)
    )
    response = await fetch(app, "/api/users")
    assert response.status_code == 200
    assert response.json()["data"][0]["id"] == 1
    assert sleeper.calls == [7.5]


@pytest.mark.parametrize(
    ("cap", "expected"),
    [
        (1, [500, 200, 500, 200, 500, 200]),
        (2, [500, 500, 200, 500, 500, 200]),
        (3, [500, 500, 500, 200, 500, 500, 500, 200]),
        (None, [500] * 8),
    ],
)
@pytest.mark.anyio
async def test_consecutive_failure_cap(cap: int | None, expected: list[int]) -> None:
    """After cap injected failures in a row for a page, the next request is served cleanly."""
    app = create_app(config(fault_rate=1.0, error_statuses=(500,), max_consecutive_failures=cap))
    assert await _statuses(app, ["/api/users?page=2"] * len(expected)) == expected


@pytest.mark.anyio
async def test_cap_counts_page_and_per_page_separately() -> None:
    """The cap is per (page, per_page): another page size has its own count."""
    app = create_app(config(fault_rate=1.0, error_statuses=(503,)))
    paths = ["/api/users?page=1"] * 3 + ["/api/users?page=1&per_page=5"] + ["/api/users?page=1"]
    assert await _statuses(app, paths) == [503, 503, 503, 503, 200]


@pytest.mark.anyio
async def test_faults_are_deterministic_for_a_seed_whatever_the_order() -> None:
    """The same seed fails the same attempts of the same pages, in any request order."""
    pages = [1, 2, 3, 4, 5, 6] * 4
    forward = [f"/api/users?page={p}" for p in pages]
    backward = forward[::-1]

    async def outcome(seed: int, paths: list[str]) -> dict[str, list[int]]:
        app = create_app(config(customers=100, fault_rate=0.5, seed=seed))
        per_page: dict[str, list[int]] = {}
        for path, status in zip(paths, await _statuses(app, paths), strict=True):
            per_page.setdefault(path, []).append(status)
        return per_page

    a = await outcome(7, forward)
    assert a == await outcome(7, backward)
    assert a != await outcome(8, forward)


@pytest.mark.anyio
async def test_concurrent_requests_do_not_change_fault_choice() -> None:
    """Faults are decided per page attempt, so concurrent fetching sees the same failures."""
    paths = [f"/api/users?page={p}" for p in range(1, 31)]

    async def run(concurrently: bool) -> list[int]:
        app = create_app(config(customers=500, fault_rate=0.4, seed=3))
        async with client_for(app) as client:
            if concurrently:
                answers = await asyncio.gather(*(client.get(p) for p in paths))
            else:
                answers = [await client.get(p) for p in paths]
        return [r.status_code for r in answers]

    assert await run(True) == await run(False)


def test_fault_rate_is_honoured_over_many_pages() -> None:
    """About fault_rate of first attempts fail."""
    injector = FaultInjector(config(fault_rate=0.2, max_consecutive_failures=None))
    failures = sum(injector.decide((1, page, 100)) is not None for page in range(1, 5001))
    assert 0.18 < failures / 5000 < 0.22


def test_fault_kinds_are_drawn_from_the_configured_set() -> None:
    """Every configured kind occurs, and no other."""
    injector = FaultInjector(
        config(fault_rate=1.0, fault_kinds=FAULT_KINDS, max_consecutive_failures=None)
    )
    kinds = {injector.decide((1, page, 10)).kind for page in range(1, 400)}  # type: ignore[union-attr]
    assert kinds == set(FAULT_KINDS)


@pytest.mark.anyio
async def test_zero_fault_rate_never_fails() -> None:
    """fault_rate=0 turns faults off whatever the kinds."""
    app = create_app(config(fault_rate=0.0, fault_kinds=FAULT_KINDS))
    assert set(await _statuses(app, ["/api/users?page=1"] * 20)) == {200}


@pytest.mark.anyio
async def test_demo_defaults_fail_some_requests_with_5xx_only() -> None:
    """The default config fails about 20% of requests, with 5xx only, and caps each page."""
    app = create_app(SimulatorConfig(now=NOW))
    statuses = await _statuses(app, [f"/api/users?page={p % 4 + 1}" for p in range(200)])
    failures = [s for s in statuses if s != 200]
    assert set(failures) <= {500, 502, 503, 504}
    assert 0.1 < len(failures) / len(statuses) < 0.3


# --------------------------------------------------------------------------------------
# Latency and concurrency


@pytest.mark.parametrize(
    ("latency_ms", "jitter", "low", "high"),
    [(150.0, 0.2, 0.12, 0.18), (150.0, 0.0, 0.15, 0.15), (20.0, 1.0, 0.0, 0.04)],
)
@pytest.mark.anyio
async def test_latency_is_fixed_plus_jitter(
    latency_ms: float, jitter: float, low: float, high: float
) -> None:
    """Each answer sleeps latency_ms ± jitter through the injected sleep."""
    sleeper = Sleeper()
    app = create_app(config(latency_ms=latency_ms, latency_jitter=jitter, sleep=sleeper))
    await fetch_all(app, ["/api/users"] * 30)
    assert len(sleeper.calls) == 30
    assert all(low - 1e-9 <= s <= high + 1e-9 for s in sleeper.calls)
    assert (len(set(sleeper.calls)) > 1) is (jitter > 0)


@pytest.mark.anyio
async def test_stats_track_in_flight_and_max_in_flight() -> None:
    """Concurrent requests raise in_flight and max_in_flight; finished ones lower in_flight."""
    gate = GatedSleeper()
    app = create_app(config(latency_ms=10.0, sleep=gate))
    stats = app.state.simulator.stats
    async with client_for(app) as client:
        tasks = [asyncio.ensure_future(client.get("/api/users")) for _ in range(5)]
        while gate.waiting < 5:
            await asyncio.sleep(0)
        assert stats.snapshot()["in_flight"] == 5
        gate.gate.set()
        await asyncio.gather(*tasks)
    snap = stats.snapshot()
    assert (snap["in_flight"], snap["max_in_flight"], snap["requests"]) == (0, 5, 5)


# --------------------------------------------------------------------------------------
# Stats


@pytest.mark.anyio
async def test_stats_endpoint_reports_requests_statuses_faults_and_pages() -> None:
    """GET /api/_stats returns the stats snapshot as JSON and is not itself counted."""
    app = create_app(config(fault_rate=1.0, error_statuses=(503,)))
    paths = ["/api/users?page=1"] * 4 + ["/api/users?page=2", "/api/users?page=0"]
    answers = await fetch_all(app, [*paths, "/api/_stats"])
    stats = answers[-1].json()
    assert stats["requests"] == 6
    assert stats["by_status"] == {"200": 1, "400": 1, "503": 4}
    assert stats["faults"] == {k: (4 if k == "5xx" else 0) for k in FAULT_KINDS}
    assert sum(stats["fault_details"].values()) == 4
    assert set(stats["fault_details"]) <= {"http_503_html", "http_503_json"}
    assert stats["per_page_requests"] == {"1": 4, "2": 1}
    assert stats["records_served"] == 6
    assert set(stats) == set(app.state.simulator.stats.snapshot())
    assert app.state.simulator.stats.snapshot()["by_status"] == {200: 1, 400: 1, 503: 4}


@pytest.mark.anyio
async def test_stats_endpoint_needs_no_key_and_is_never_faulted() -> None:
    """/_stats answers 200 without an API key, whatever the fault rate and rate limit."""
    app = create_app(
        config(fault_rate=1.0, api_key="k", rate_limit=0.001, burst=1, clock=FakeClock())
    )
    answers = await fetch_all(app, ["/api/_stats"] * 5)
    assert {r.status_code for r in answers} == {200}


# --------------------------------------------------------------------------------------
# The demo dataset

GEORGE = {
    "id": 1,
    "email": "george.bluth@reqres.in",
    "first_name": "George",
    "last_name": "Bluth",
    "avatar": "https://reqres.in/img/faces/1-image.jpg",
    "created_at": timestamp(NOW_S - 812 * DAY, "iso_z"),
    "last_login_at": timestamp(NOW_S - 2 * DAY, "iso_z"),
    "sessions_30d": 14,
    "orders_count": 6,
    "lifetime_value": "$2,480.00",
    "signup_source": "Website",
    "country": "US",
    "region": "CA",
    "plan": "premium",
    "updated_at": timestamp(NOW_S - 2 * DAY, "iso_z"),
}

REQRES_NAMES = [
    "George Bluth",
    "Janet Weaver",
    "Emma Wong",
    "Eve Holt",
    "Charles Morris",
    "Tracey Ramos",
    "Michael Lawson",
    "Lindsay Ferguson",
    "Tobias Funke",
    "Byron Fields",
    "George Edwards",
    "Rachel Howell",
]


def test_demo_george_bluth_is_fully_valid() -> None:
    """George Bluth (id 1) has every field, valid, last seen 2 days before now."""
    assert demo_dataset(NOW).record(0) == GEORGE
    assert GEORGE["last_login_at"] == (NOW - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(("index", "name"), list(enumerate(REQRES_NAMES)))
def test_demo_has_the_twelve_reqres_users(index: int, name: str) -> None:
    """Ids 1-12 are the real reqres users with first.last@reqres.in and their avatars."""
    record = demo_dataset(NOW).record(index)
    first, last = name.split()
    assert record["id"] == index + 1
    assert f"{record['first_name']} {record['last_name']}" == name
    assert record["email"] == f"{first.lower()}.{last.lower()}@reqres.in"
    assert record["avatar"] == f"https://reqres.in/img/faces/{index + 1}-image.jpg"
    assert demo_dataset(NOW).kind(index) == "customer"
    assert None not in record.values()


def test_demo_problem_records_fill_page_three() -> None:
    """Page 3 holds an exact duplicate, a same-email duplicate, a null id and a garbled record."""
    data = demo_dataset(NOW)
    assert len(data) == 16
    assert [data.kind(i) for i in range(12, 16)] == [
        "duplicate",
        "email_duplicate",
        "bad_id",
        "customer",
    ]
    assert data.record(12) == data.record(2)  # Emma Wong again, on page 3
    janet_again = data.record(13)
    assert janet_again["id"] == 13
    assert janet_again["email"].strip().lower() == data.record(1)["email"]
    assert janet_again["email"] != data.record(1)["email"]
    assert usable_id(data.record(14).get("id")) is None
    garbled = data.record(15)
    assert (garbled["id"], usable_id(garbled["id"])) == ("14", 14)
    assert "@" not in garbled["email"]
    assert data.expected_ids() == [*range(1, 13), 14]


def test_demo_uses_every_spelling() -> None:
    """The demo spells ids, counts, money, countries and timestamps in every real way."""
    records = list(demo_dataset(NOW).iter_records())

    def values(field: str) -> list[Any]:
        return [r.get(field) for r in records[:12]]

    assert any(isinstance(v, str) for v in values("sessions_30d"))
    assert any(isinstance(v, float) for v in values("lifetime_value"))
    money = [v for v in values("lifetime_value") if isinstance(v, str)]
    assert any(v.startswith("$") for v in money)
    assert any(v.startswith("USD ") for v in money)
    assert any("," in v and not v.startswith("$") for v in money)
    countries = set(values("country"))
    assert {"US", "usa", "DEU", "Japan", "United States"} <= countries
    stamps = [r.get(f) for r in records[:12] for f in ("created_at", "last_login_at")]
    assert any(isinstance(v, int) and v > 10**11 for v in stamps)  # epoch ms
    assert any(isinstance(v, int) and v < 10**11 for v in stamps)  # epoch s
    assert any(isinstance(v, str) and v.isdigit() for v in stamps)  # numeric strings
    assert any(isinstance(v, str) and len(v) == 10 for v in stamps)  # date only
    assert any(isinstance(v, str) and " " in v for v in stamps)  # space separated
    assert any(isinstance(v, str) and v[-6] in "+-" for v in stamps)  # offset


def test_demo_timestamps_follow_now() -> None:
    """Demo timestamps are relative to the injected now, so active users stay active."""
    later = NOW + timedelta(days=400)
    assert demo_dataset(later).record(0)["last_login_at"] == (later - timedelta(days=2)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


# --------------------------------------------------------------------------------------
# Generated datasets


def test_generated_records_are_pure_functions_of_seed_and_index() -> None:
    """Record i depends only on (seed, i): same in any access order, differs across seeds."""
    a = GeneratedDataset(1000, seed=5, now=NOW)
    b = GeneratedDataset(1000, seed=5, now=NOW)
    late = b.record(999)
    assert [a.record(i) for i in range(1000)] == [b.record(i) for i in range(1000)]
    assert late == a.record(999)
    c = GeneratedDataset(1000, seed=6, now=NOW)
    assert sum(a.record(i) != c.record(i) for i in range(100)) > 90


def test_generated_kinds_follow_the_rates() -> None:
    """Duplicates and bad records occur at about their configured rates."""
    kinds = GeneratedDataset(20_000, seed=1, now=NOW, duplicate_rate=0.1, bad_record_rate=0.05)
    counts = kinds.kinds()
    assert abs(counts["bad_id"] / 20_000 - 0.05) < 0.01
    assert abs((counts["duplicate"] + counts["email_duplicate"]) / 20_000 - 0.1) < 0.01
    assert counts["duplicate"] > 0
    assert counts["email_duplicate"] > 0


def test_generated_problem_records_are_what_they_claim() -> None:
    """Exact duplicates copy an earlier customer, email duplicates share its email, bad ids fail."""
    data = GeneratedDataset(5_000, seed=2, now=NOW)
    for i in range(len(data)):
        kind = data.kind(i)
        record = data.record(i)
        if kind == "duplicate":
            source = data.source_index(i)
            assert source < i
            assert data.kind(source) == "customer"
            assert record == data.record(source)
        elif kind == "email_duplicate":
            original = data.record(data.source_index(i))
            assert record["email"].strip().lower() == original["email"].strip().lower()
            assert usable_id(record["id"]) == i + 1 != usable_id(original["id"])
        elif kind == "bad_id":
            assert usable_id(record.get("id")) is None
        else:
            assert usable_id(record["id"]) == i + 1


def test_generated_expected_ids_are_the_unique_customers() -> None:
    """expected_ids lists each distinct customer once; ids are unique integers."""
    data = GeneratedDataset(3_000, seed=4, now=NOW)
    ids = data.expected_ids()
    assert ids == sorted(set(ids))
    assert len(ids) == data.kinds()["customer"]
    emails = {data.record(i - 1)["email"].strip().lower() for i in ids}
    assert len(emails) == len(ids)


def test_generated_data_mixes_every_spelling() -> None:
    """Generated records use every id, money, timestamp and country spelling."""
    records = list(GeneratedDataset(4_000, seed=0, now=NOW).iter_records())

    def seen(field: str) -> list[Any]:
        return [r[field] for r in records if r.get(field) is not None]

    assert any(isinstance(v, str) for v in seen("id"))
    money = seen("lifetime_value")
    assert any(isinstance(v, float) for v in money)
    for prefix in ("$", "USD "):
        assert any(isinstance(v, str) and v.startswith(prefix) for v in money)
    stamps = seen("created_at") + seen("last_login_at") + seen("updated_at")
    assert any(isinstance(v, int) and v > 10**11 for v in stamps)
    assert any(isinstance(v, int) and v < 10**11 for v in stamps)
    assert any(isinstance(v, str) and v.endswith("Z") for v in stamps)
    assert any(isinstance(v, str) and v[-6:-5] in "+-" and v[-3] == ":" for v in stamps)
    assert any(isinstance(v, str) and len(v) == 10 and v[4] == "-" for v in stamps)
    countries = set(seen("country"))
    assert {"US", "usa", "United States", "united states", "DEU", "Japan"} & countries
    assert any(len(c) == 3 and c.isupper() for c in countries)
    assert any(r.get("region") for r in records)
    assert any("plan" not in r or r["plan"] is None for r in records)  # missing or null fields


@pytest.mark.anyio
async def test_huge_dataset_serves_a_deep_page_without_materialising() -> None:
    """customers=10,000,000 serves page 50,000 fast and in little memory."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        app = create_app(config(customers=10_000_000))
        response = await fetch(app, "/api/users?page=50000&per_page=100")
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    body = response.json()
    assert (body["total"], body["total_pages"], len(body["data"])) == (10_000_000, 100_000, 100)
    ids = [usable_id(r.get("id")) for r in body["data"]]
    assert ids[-1] == 5_000_000 or ids[-1] is None or ids[-1] < 5_000_000
    assert sum(i is not None and 4_999_900 < i <= 5_000_000 for i in ids) > 90
    assert elapsed < 1.0
    assert peak < 20_000_000


# --------------------------------------------------------------------------------------
# Page drift


def _ids(response: httpx.Response) -> list[int | None]:
    return [usable_id(r.get("id")) for r in response.json()["data"]]


@pytest.mark.anyio
async def test_insert_drift_repeats_a_record_on_the_next_page() -> None:
    """An insert before the current page pushes the previous page's last record onto it."""
    app = create_app(
        config(customers=30, duplicate_rate=0, bad_record_rate=0, drift="insert", drift_every=2)
    )
    page1, page2 = await fetch_all(
        app, ["/api/users?page=1&per_page=5", "/api/users?page=2&per_page=5"]
    )
    assert _ids(page1) == [1, 2, 3, 4, 5]
    assert _ids(page2) == [5, 6, 7, 8, 9]
    assert (page1.json()["total"], page2.json()["total"]) == (30, 31)
    (event,) = app.state.simulator.view.events
    assert event[0] == "insert"
    assert event[1] < 5
    assert event[2] == 31
    refetched = await fetch(app, "/api/users?page=1&per_page=5")
    assert 31 in _ids(refetched)


@pytest.mark.anyio
async def test_delete_drift_shifts_a_record_onto_a_fetched_page() -> None:
    """A delete before the current page pulls its first record back; a re-fetch finds it."""
    app = create_app(
        config(customers=30, duplicate_rate=0, bad_record_rate=0, drift="delete", drift_every=2)
    )
    page1, page2 = await fetch_all(
        app, ["/api/users?page=1&per_page=5", "/api/users?page=2&per_page=5"]
    )
    assert _ids(page1) == [1, 2, 3, 4, 5]
    assert _ids(page2) == [7, 8, 9, 10, 11]  # id 6 slid back onto page 1
    assert page2.json()["total"] == 29
    (event,) = app.state.simulator.view.events
    assert event[0] == "delete"
    assert event[2] in {1, 2, 3, 4, 5}
    refetched = await fetch(app, "/api/users?page=1&per_page=5")
    assert 6 in _ids(refetched)
    assert event[2] not in _ids(refetched)
    missing = await fetch(app, f"/api/users/{event[2]}")
    assert missing.status_code == 404


@pytest.mark.anyio
async def test_drift_never_happens_on_page_one_and_respects_max_events() -> None:
    """Drift needs a position before the page, and stops after drift_max_events."""
    app = create_app(config(customers=50, drift="delete", drift_every=1, drift_max_events=2))
    await fetch_all(app, ["/api/users?page=1&per_page=5"] * 3)
    assert app.state.simulator.view.events == []
    await fetch_all(app, ["/api/users?page=3&per_page=5"] * 4)
    assert len(app.state.simulator.view.events) == 2
    assert app.state.simulator.stats.snapshot()["drift_events"] == 2


@given(
    mode=st.sampled_from(["insert", "delete"]),
    starts=st.lists(st.integers(min_value=0, max_value=40), max_size=25),
)
def test_drift_view_matches_a_list_model(mode: str, starts: list[int]) -> None:
    """However events pile up, the view equals a plain list with the same edits."""
    data = GeneratedDataset(40, seed=9, now=NOW, duplicate_rate=0, bad_record_rate=0)
    view = DriftView(data, mode=mode, every=1, seed=9)  # type: ignore[arg-type]
    model = [data.record(i) for i in range(len(data))]
    for start in starts:
        event = view.on_page_request(start)
        if event is not None:
            kind, position, record_id = event
            if kind == "insert":
                model.insert(position, data.new_record(record_id - 41))  # type: ignore[operator]
            else:
                assert usable_id(model.pop(position)["id"]) == record_id
    assert len(view) == len(model)
    assert view.records(0, len(view)) == model


# --------------------------------------------------------------------------------------
# On a real socket (uvicorn in a thread)


def test_server_starts_on_a_free_port_and_stops_cleanly() -> None:
    """SimulatedServer binds 127.0.0.1:0, serves at base_url, and frees the port on exit."""
    with SimulatedServer(config()) as server:
        assert server.base_url == f"http://127.0.0.1:{server.port}/api"
        response = httpx.get(f"{server.base_url}/users?page=2")
        port = server.port
    assert response.status_code == 200
    assert [r["id"] for r in response.json()["data"]] == [7, 8, 9, 10, 11, 12]
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
        probe.connect(("127.0.0.1", port))


def test_server_on_a_busy_port_is_a_config_error() -> None:
    """Asking for a port in use fails at once with ConfigError."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = SimulatedServer(config(), port=taken.getsockname()[1])
        with pytest.raises(ConfigError, match="cannot listen"):
            server.start()


def test_reset_on_loopback_is_a_connection_reset(caplog: pytest.LogCaptureFixture) -> None:
    """A reset closes the socket with RST and no answer; uvicorn logs no error."""
    caplog.set_level(logging.WARNING)
    with SimulatedServer(config(fault_rate=1.0, fault_kinds=("reset",))) as server:
        with httpx.Client() as client:
            with pytest.raises(httpx.ReadError):
                client.get(f"{server.base_url}/users")
            for _ in range(2):
                with pytest.raises(httpx.ReadError):
                    client.get(f"{server.base_url}/users")
            after_cap = client.get(f"{server.base_url}/users")
        snap = wait_idle(server)
    assert after_cap.status_code == 200
    assert (snap["faults"]["reset"], snap["no_response"], snap["in_flight"]) == (3, 3, 0)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_reset_mid_body_on_loopback_sends_headers_then_part_of_the_body(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A mid-body reset sends 200 with the full Content-Length, some bytes, then RST."""
    caplog.set_level(logging.WARNING)
    with SimulatedServer(config(fault_rate=1.0, fault_kinds=("reset_mid_body",))) as server:
        full, _ = server.simulator.page_body(1, 6)
        received: list[bytes] = []
        with (
            httpx.Client() as client,
            client.stream("GET", f"{server.base_url}/users") as response,
        ):
            status, length = response.status_code, response.headers["content-length"]
            with pytest.raises(httpx.ReadError):
                received.extend(response.iter_raw())
        snap = wait_idle(server)
    assert (status, length) == (200, str(len(full)))
    assert 0 < len(b"".join(received)) < len(full)
    assert full.startswith(b"".join(received))
    assert (snap["faults"]["reset_mid_body"], snap["no_response"]) == (1, 1)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_stall_on_loopback_trips_the_client_read_timeout() -> None:
    """A stall outlasts the client's read timeout; the server then drops the request."""
    cfg = config(fault_rate=1.0, fault_kinds=("stall",), stall_seconds=30.0, sleep=None)
    with SimulatedServer(cfg) as server:
        started = time.perf_counter()
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(f"{server.base_url}/users", timeout=httpx.Timeout(5.0, read=0.2))
        assert time.perf_counter() - started < 5.0
        snap = wait_idle(server)
    assert (snap["in_flight"], snap["no_response"], snap["faults"]["stall"]) == (0, 1, 1)


def test_server_stop_releases_a_stalled_request() -> None:
    """Stopping the server ends a stall at once instead of waiting stall_seconds."""
    cfg = config(fault_rate=1.0, fault_kinds=("stall",), stall_seconds=60.0, sleep=None)
    server = SimulatedServer(cfg).start()
    with socket.create_connection(("127.0.0.1", server.port)) as conn:
        conn.sendall(b"GET /api/users HTTP/1.1\r\nhost: x\r\n\r\n")
        deadline = time.perf_counter() + 5.0
        while not server.stats.snapshot()["in_flight"] and time.perf_counter() < deadline:
            time.sleep(0.005)
        started = time.perf_counter()
        server.stop()
    assert time.perf_counter() - started < 3.0


# --------------------------------------------------------------------------------------
# Command line


def test_cli_flags_build_the_config() -> None:
    """Every required flag maps onto the config; the key may come from the environment."""
    args = build_parser().parse_args(
        [
            "--host", "127.0.0.1", "--port", "0", "--customers", "10000", "--seed", "4",
            "--fault-rate", "0.3", "--fault-kinds", "5xx,429,reset", "--rate-limit", "20",
            "--burst", "5", "--latency-ms", "150", "--latency-jitter", "0.2",
            "--max-per-page", "1000", "--drift", "delete", "--stall-seconds", "2",
            "--max-consecutive-failures", "4", "--duplicate-rate", "0.05",
            "--bad-record-rate", "0.02",
        ]
    )  # fmt: skip
    c = config_from_args(args, {"SIMULATED_API_KEY": "from-env"})
    assert (c.customers, c.seed, c.fault_rate, c.fault_kinds) == (
        10000,
        4,
        0.3,
        ("5xx", "429", "reset"),
    )
    assert (c.rate_limit, c.burst, c.latency_ms, c.latency_jitter) == (20.0, 5, 150.0, 0.2)
    assert (c.max_per_page, c.drift, c.stall_seconds, c.max_consecutive_failures) == (
        1000,
        "delete",
        2.0,
        4,
    )
    assert (c.duplicate_rate, c.bad_record_rate, c.api_key) == (0.05, 0.02, "from-env")


def test_cli_fault_kinds_all() -> None:
    """--fault-kinds all enables every kind; the default is the demo dataset."""
    c = config_from_args(build_parser().parse_args(["--fault-kinds", "all"]), {})
    assert (c.fault_kinds, c.customers, c.fault_rate) == (FAULT_KINDS, None, 0.2)


def test_cli_help_lists_the_required_flags(capsys: pytest.CaptureFixture[str]) -> None:
    """--help documents every flag outside tools rely on."""
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    out = capsys.readouterr().out
    assert info.value.code == 0
    for flag in (
        "--host", "--port", "--customers", "--seed", "--fault-rate", "--rate-limit",
        "--burst", "--latency-ms", "--api-key", "--max-per-page", "--drift", "--port-file",
    ):  # fmt: skip
        assert flag in out


def test_cli_bad_value_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """An invalid setting prints one error line and exits 2 without starting a server."""
    assert main(["--fault-rate", "2", "--port", "0"], environ={}) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: fault_rate")
    assert err.count("\n") == 1


def test_standalone_process_serves_and_never_prints_the_key(tmp_path: Path) -> None:
    """python -m customer_sync.simulated_api --port 0 --port-file serves, and hides the API key."""
    port_file = tmp_path / "port"
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "customer_sync.simulated_api", "--port", "0", "--port-file",
            str(port_file), "--fault-rate", "0", "--api-key", "top-secret-key",
            "--customers", "1000",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 15
        while not port_file.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        port = int(port_file.read_text())
        base = f"http://127.0.0.1:{port}/api"
        denied = httpx.get(f"{base}/users")
        served = httpx.get(f"{base}/users?per_page=100", headers={"x-api-key": "top-secret-key"})
        stats = httpx.get(f"{base}/_stats").json()
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=15)
    assert (denied.status_code, served.status_code) == (401, 200)
    assert served.json()["total"] == 1000
    assert len(served.json()["data"]) == 100
    assert stats["requests"] == 2
    assert f"Simulated API on {base}" in out
    assert "top-secret-key" not in out + err
    assert proc.returncode == 0
