"""BASELINE, not our code: the naive sequential client most solutions of this challenge use.

One request at a time in a loop; any error (5xx, 429, transport) is retried 3 times after
fixed waits of 1, 2 and 4 seconds, ignoring Retry-After; a page that still fails is
skipped. It is kept here only as the yardstick of Scenario A.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from .base import FetchResult, Target

__all__ = ["NaiveBaseline", "NaiveRun", "fetch_all_naively"]

BACKOFF_SECONDS: tuple[float, ...] = (1.0, 2.0, 4.0)


@dataclass(slots=True)
class NaiveRun:
    records: list[Any] = field(default_factory=list)
    requests: int = 0
    retries: int = 0
    pages_given_up: list[int] = field(default_factory=list)


def _get_page(
    client: httpx.Client,
    url: str,
    params: dict[str, int],
    run: NaiveRun,
    sleep: Callable[[float], None],
    backoff: Sequence[float],
) -> dict[str, Any] | None:
    for attempt in range(len(backoff) + 1):
        if attempt:
            sleep(backoff[attempt - 1])
            run.retries += 1
        run.requests += 1
        try:
            response = client.get(url, params=params)
            response.raise_for_status()
            payload: dict[str, Any] = response.json()
            return payload
        except (httpx.HTTPError, ValueError):
            continue
    return None


def fetch_all_naively(
    base_url: str,
    per_page: int,
    *,
    client: httpx.Client,
    sleep: Callable[[float], None] = time.sleep,
    backoff: Sequence[float] = BACKOFF_SECONDS,
) -> NaiveRun:
    """Fetch page 1, 2, ... until ``total_pages``, one request at a time."""
    run = NaiveRun()
    url = f"{base_url.rstrip('/')}/users"
    page, total_pages = 1, 1
    while page <= total_pages:
        payload = _get_page(client, url, {"page": page, "per_page": per_page}, run, sleep, backoff)
        if payload is None:
            if page == 1:
                raise RuntimeError("page 1 failed after all retries")
            run.pages_given_up.append(page)
        else:
            run.records.extend(payload.get("data") or [])
            total_pages = int(payload.get("total_pages") or page)
        page += 1
    return run


class NaiveBaseline:
    """The baseline as a contender. Wall time covers the fetch loop only, in this process."""

    key = "naive"
    label = "Naive sequential client (baseline)"

    def unavailable(self) -> str | None:
        return None

    def run(self, target: Target, workdir: Path) -> FetchResult:
        started = time.perf_counter()
        try:
            with httpx.Client(timeout=30.0) as client:
                run = fetch_all_naively(target.base_url, target.per_page, client=client)
        except RuntimeError as exc:
            return FetchResult.failed(str(exc))
        wall = time.perf_counter() - started
        distinct = {orjson.dumps(record, option=orjson.OPT_SORT_KEYS) for record in run.records}
        note = f"gave up on pages {run.pages_given_up}" if run.pages_given_up else ""
        return FetchResult(
            status="ok",
            records=len(run.records),
            unique_records=len(distinct),
            wall_seconds=wall,
            note=note,
            extra={"client_requests": run.requests, "retries": run.retries},
        )
