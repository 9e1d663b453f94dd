"""The simulator flags that rehearse APIs unlike ours: header-less and IETF rate limits,
refused page sizes, inflated totals, oversized, compressed and slow bodies, slow headers."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from typing import Any

import httpx
import pytest

from customer_sync.errors import ConfigError
from customer_sync.simulated_api import SimulatedServer, create_app
from customer_sync.simulated_api.cli import build_parser, config_from_args
from customer_sync.simulated_api.paging import PagingError, parse_paging
from tests.simulator_support import FakeClock, Sleeper, config, fetch, fetch_all


def burst_of(n: int, **overrides: Any) -> list[httpx.Response]:
    """``n`` list requests at one instant against a limited simulator."""
    app = create_app(config(customers=30, rate_limit=1.0, burst=1, clock=FakeClock(), **overrides))
    return asyncio.run(fetch_all(app, ["/api/users?page=1"] * n))


def test_header_less_limiter_sends_only_retry_after_in_mixed_forms() -> None:
    """rate_limit_headers=none: no rate-limit header anywhere; 429s mix Retry-After forms."""
    answers = burst_of(40, rate_limit_headers="none")
    assert answers[0].status_code == 200
    refused = answers[1:]
    assert {r.status_code for r in refused} == {429}
    for answer in answers:
        assert not [h for h in answer.headers if "ratelimit" in h]
    forms = [r.headers.get("retry-after") for r in refused]
    assert None in forms  # missing
    assert "soon" in forms  # garbage
    assert "1" in forms  # delta-seconds
    assert any(f is not None and "." in f for f in forms)  # decimal
    assert any(f is not None and f.endswith("GMT") for f in forms)  # HTTP-date


@pytest.mark.parametrize(
    ("style", "expected"),
    [
        ("x", {"x-ratelimit-limit": "1", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1"}),
        ("ietf", {"ratelimit-limit": "1", "ratelimit-remaining": "0", "ratelimit-reset": "1"}),
        ("structured", {"ratelimit": '"default";r=0;t=1', "ratelimit-policy": '"default";q=1;w=1'}),
    ],
)
def test_rate_limit_header_styles(style: str, expected: dict[str, str]) -> None:
    """Each style sends its own rate-limit fields and none of the others."""
    (answer,) = burst_of(1, rate_limit_headers=style)
    got = {k: v for k, v in answer.headers.items() if "ratelimit" in k}
    assert got == expected


def test_per_page_over_the_max_is_rejected_or_capped() -> None:
    """over_max_per_page=reject answers 400 above the max; cap serves the max silently."""
    rejected = asyncio.run(
        fetch(create_app(config(customers=30, max_per_page=10, over_max_per_page="reject")),
              "/api/users?page=1&per_page=11")
    )
    assert rejected.status_code == 400
    assert "at most 10" in rejected.json()["error"]
    capped = asyncio.run(
        fetch(create_app(config(customers=30, max_per_page=10)), "/api/users?page=1&per_page=11")
    )
    assert (capped.status_code, capped.json()["per_page"], len(capped.json()["data"])) == (
        200, 10, 10,
    )
    with pytest.raises(PagingError):
        parse_paging({"per_page": "11"}, default_per_page=6, max_per_page=10, reject_over_max=True)


def test_inflated_total_pages_are_reported_as_configured() -> None:
    """claimed_total_pages replaces total_pages; the pages beyond the data are empty."""
    app = create_app(config(customers=0, claimed_total_pages=99_999))
    first, far = asyncio.run(fetch_all(app, ["/api/users?page=1", "/api/users?page=500"]))
    assert (first.json()["total"], first.json()["total_pages"], first.json()["data"]) == (
        0, 99_999, [],
    )
    assert far.json()["data"] == []


def test_oversized_compressed_body_inflates_on_the_client_side() -> None:
    """Padding plus gzip: a small compressed body that decodes to valid, much larger JSON."""
    app = create_app(config(customers=12, body_padding_bytes=3 << 20, gzip_bodies=True))

    async def raw() -> tuple[httpx.Response, int]:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://sim.test"
        ) as client:
            response = await client.get("/api/users?page=1")
            return response, response.num_bytes_downloaded

    response, wire = asyncio.run(raw())
    assert response.headers["content-encoding"] == "gzip"
    assert len(response.content) > 3 << 20
    assert wire < 64 << 10
    assert len(json.loads(response.content)["data"]) == 6


def test_slow_body_trickles_through_the_injected_sleep() -> None:
    """slow_body_seconds spreads the body over that many (injected) seconds."""
    sleeper = Sleeper()
    app = create_app(config(customers=12, slow_body_seconds=30.0, sleep=sleeper))
    answer = asyncio.run(fetch(app, "/api/users?page=1"))
    assert len(answer.json()["data"]) == 6
    assert len(sleeper.calls) > 10
    assert sum(sleeper.calls) == pytest.approx(30.0)


def test_slow_headers_wait_through_the_injected_sleep_in_process() -> None:
    """Without a socket, slow_headers_seconds delays the whole answer by that many seconds."""
    sleeper = Sleeper()
    app = create_app(config(customers=12, slow_headers_seconds=7.5, sleep=sleeper))
    answer = asyncio.run(fetch(app, "/api/users?page=1"))
    assert answer.status_code == 200
    assert len(answer.json()["data"]) == 6
    assert sleeper.calls == [7.5]


def test_slow_headers_send_one_line_at_a_time_on_loopback() -> None:
    """On a socket the status line and each header line go out one per sleep, then the body.

    The simulator's sleep waits for the test to release it, so each read sees exactly
    one line: deterministic, and nothing really waits.
    """
    step = threading.Semaphore(0)
    asked: list[float] = []

    async def one_line_at_a_time(seconds: float) -> None:
        asked.append(seconds)
        await asyncio.to_thread(step.acquire)

    cfg = config(customers=12, slow_headers_seconds=5.0, sleep=one_line_at_a_time)
    with SimulatedServer(cfg) as server, socket.create_connection(
        ("127.0.0.1", server.port), timeout=5.0
    ) as sock:
        sock.sendall(b"GET /api/users?page=1 HTTP/1.1\r\nhost: sim\r\n\r\n")
        lines: list[bytes] = []
        while not lines or lines[-1] != b"connection: close":
            chunk = sock.recv(65536)
            assert chunk.count(b"\r\n") == 1, chunk
            assert chunk.endswith(b"\r\n"), chunk
            lines.append(chunk[:-2])
            step.release()
        rest = b""
        while piece := sock.recv(65536):
            rest += piece
    assert lines[0] == b"HTTP/1.1 200 OK"
    assert any(line.startswith(b"content-length: ") for line in lines)
    assert rest.startswith(b"\r\n")
    assert len(json.loads(rest[2:])["data"]) == 6
    assert len(asked) == len(lines)
    assert sum(asked) == pytest.approx(5.0)


def test_hostile_attempts_limits_the_hostile_bodies_to_the_first_requests() -> None:
    """hostile_attempts=1: the first request of a page is slow, the next one is not."""
    sleeper = Sleeper()
    app = create_app(config(customers=12, slow_body_seconds=5.0, hostile_attempts=1, sleep=sleeper))
    asyncio.run(fetch_all(app, ["/api/users?page=1"] * 2))
    assert sum(sleeper.calls) == pytest.approx(5.0)


def test_the_new_flags_reach_the_config() -> None:
    """Every new simulator flag lands in SimulatorConfig; bad values are ConfigErrors."""
    args = build_parser().parse_args([
        "--rate-limit-headers", "none", "--over-max-per-page", "reject",
        "--claimed-total-pages", "99999", "--body-padding-bytes", "1024", "--gzip-bodies",
        "--slow-body-seconds", "2.5", "--hostile-attempts", "1", "--slow-headers-seconds", "4",
    ])
    made = config_from_args(args, {})
    assert (made.rate_limit_headers, made.over_max_per_page, made.claimed_total_pages) == (
        "none", "reject", 99_999,
    )
    assert (made.body_padding_bytes, made.gzip_bodies, made.slow_body_seconds) == (1024, True, 2.5)
    assert made.hostile_attempts == 1
    assert made.slow_headers_seconds == 4.0
    with pytest.raises(ConfigError):
        config(rate_limit_headers="sometimes")
    with pytest.raises(ConfigError):
        config(hostile_attempts=0)
    with pytest.raises(ConfigError):
        config(slow_headers_seconds=-1.0)
