"""The simulator's incremental contract: updated_since, (updated_at, id) order, changes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest

from customer_sync.simulated_api import SimulatorConfig, create_app, usable_id
from customer_sync.simulated_api.changes import cursor_micros, format_cursor
from customer_sync.simulated_api.cli import build_parser, config_from_args

NOW = datetime(2026, 3, 14, 15, 9, 26, tzinfo=UTC)
WALL = 1_773_500_000.0  # 2026-03-14T14:53:20Z


def app_for(**overrides: Any) -> Any:
    options: dict[str, Any] = {
        "customers": 500,
        "seed": 3,
        "fault_rate": 0.0,
        "now": NOW,
        "wall_clock": lambda: WALL,
    }
    options.update(overrides)
    return create_app(SimulatorConfig(**options))


def call(app: Any, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sim.test") as c:
            return await c.request(method, path, **kwargs)

    return asyncio.run(go())


def pages(app: Any, per_page: int, **params: str) -> tuple[list[dict[str, Any]], list[int]]:
    """Every record of every page (and the totals each page reported)."""
    records: list[dict[str, Any]] = []
    totals: list[int] = []
    page = 1
    while True:
        body = call(app, "GET", "/api/users", params={"page": page, "per_page": per_page,
                                                      **params}).json()
        totals.append(body["total"])
        records.extend(body["data"])
        if page >= body["total_pages"]:
            return records, totals
        page += 1


def key(record: dict[str, Any]) -> tuple[int, int, int, str]:
    """The documented order: updated_at, then usable ids numerically, then the rest."""
    moment = cursor_micros(record.get("updated_at"))
    assert moment is not None
    number = usable_id(record.get("id"))
    if number is None:
        return moment, 1, 0, repr(record.get("id"))
    return moment, 0, number, ""


def test_updated_since_is_inclusive_ordered_and_totals_count_the_filtered_set() -> None:
    """Only records with updated_at >= since come back, in (updated_at, id) order, and
    total counts exactly them."""
    app = app_for()
    everything, _ = pages(app, 100)
    since = "2026-02-20T00:00:00Z"
    since_us = cursor_micros(since)
    assert since_us is not None
    expected = sorted(
        key(r) for r in everything if (cursor_micros(r.get("updated_at")) or -1) >= since_us
    )
    got, totals = pages(app, 7, updated_since=since)
    assert [key(r) for r in got] == expected
    assert set(totals) == {len(expected)}
    assert 0 < len(expected) < len(everything)
    exact = format_cursor(expected[0][0] / 1e6)
    inclusive, _ = pages(app, 50, updated_since=exact)
    assert key(inclusive[0]) == expected[0]


def test_changes_update_insert_delete_and_tie_by_id() -> None:
    """The admin endpoint updates, inserts, deletes and ties customers, stamped with the
    simulator's wall clock, and the filter sees exactly the changed ones."""
    app = app_for()
    before, _ = pages(app, 100)
    answer = call(app, "POST", "/api/_admin/changes",
                  json={"update": 4, "insert": 3, "delete": 2, "tie": 30}).json()
    stamp = format_cursor(WALL)
    assert answer["updated_at"] == stamp
    assert (len(answer["updated"]), len(answer["inserted"]), len(answer["deleted"]),
            len(answer["tied"])) == (4, 3, 2, 30)
    after, _ = pages(app, 100)
    ids_after = {int(r["id"]) for r in after if str(r.get("id", "")).strip().isdigit()}
    assert not ids_after & set(answer["deleted"])
    assert set(answer["inserted"]) <= ids_after
    assert len(after) == len(before) + 3 - sum(
        1 for r in before if str(r.get("id", "")).strip().isdigit()
        and int(r["id"]) in answer["deleted"]
    )
    changed, totals = pages(app, 10, updated_since=stamp)
    assert {int(r["id"]) for r in changed} == set(
        answer["updated"] + answer["inserted"] + answer["tied"]
    )
    assert all(r["updated_at"] == stamp for r in changed)
    assert [int(r["id"]) for r in changed] == sorted(int(r["id"]) for r in changed)
    assert set(totals) == {37}
    assert call(app, "GET", f"/api/users/{answer['deleted'][0]}").status_code == 404


def test_an_update_changes_every_row_of_that_id_alike() -> None:
    """An exact duplicate row stays the exact copy of its customer after an update."""
    app = app_for(duplicate_rate=0.3)
    sim = app.state.simulator
    dataset = sim.dataset
    dup = next(i for i in range(len(dataset)) if dataset.kind(i) == "duplicate")
    target = int(dataset.record(dup)["id"])
    sim.live.apply(ids=[target])
    rows = [r for r in sim.live.records(0, len(sim.live)) if str(r.get("id")) == str(target)]
    assert len(rows) >= 2
    assert all(r == rows[0] for r in rows)
    assert rows[0]["updated_at"] == format_cursor(WALL)


@pytest.mark.parametrize(
    ("overrides", "params", "filtered"),
    [
        ({"incremental_param": "modified_after"}, {"modified_after": "2030-01-01T00:00:00Z"}, True),
        ({"incremental_param": "modified_after"}, {"updated_since": "2030-01-01T00:00:00Z"}, False),
        ({"ignore_incremental_param": True}, {"updated_since": "2030-01-01T00:00:00Z"}, False),
    ],
)
def test_the_parameter_name_is_configurable_and_an_ignoring_api_can_be_played(
    overrides: dict[str, Any], params: dict[str, str], filtered: bool
) -> None:
    """The filter answers to its configured name only; ignore_incremental_param serves all."""
    body = call(app_for(**overrides), "GET", "/api/users",
                params={"page": 1, "per_page": 5, **params}).json()
    assert (body["total"] == 0) is filtered


def test_the_cursor_field_is_configurable() -> None:
    """With cursor_field=created_at the filter and the changes use that field."""
    app = app_for(cursor_field="created_at")
    answer = app.state.simulator.live.apply(update=2)
    changed, _ = pages(app, 10, updated_since=answer.updated_at)
    assert {int(r["id"]) for r in changed} == set(answer.updated)
    assert all(r["created_at"] == answer.updated_at for r in changed)


def test_every_answer_carries_the_date_of_the_injectable_wall_clock() -> None:
    """The Date header is the simulator's wall clock, whole seconds."""
    response = call(app_for(wall_clock=lambda: WALL + 0.9), "GET", "/api/users")
    assert parsedate_to_datetime(response.headers["date"]).timestamp() == WALL


@pytest.mark.parametrize(
    "body", [{"update": -1}, {"bogus": 1}, {"ids": [999_999]}, [1, 2], {"update": 10_000}]
)
def test_a_bad_change_request_is_a_400(body: Any) -> None:
    """Negative counts, unknown fields, unknown ids or too many changes answer 400."""
    response = call(app_for(), "POST", "/api/_admin/changes", json=body)
    assert response.status_code == 400
    assert "error" in response.json()


def test_a_bad_updated_since_is_a_400() -> None:
    """An updated_since that is no time at all is refused."""
    response = call(app_for(), "GET", "/api/users", params={"updated_since": "yesterday"})
    assert response.status_code == 400


def test_change_every_changes_the_data_during_a_sync() -> None:
    """change_every=N applies the change batch again every N list requests."""
    app = app_for(change_update=2, change_every=3)
    sim = app.state.simulator
    assert sim.live.changed
    for page in (1, 2, 3):
        call(app, "GET", "/api/users", params={"page": page})
    stamp = format_cursor(WALL)
    changed, _ = pages(app, 100, updated_since=stamp)
    assert len(changed) >= 3  # two at start, two more after the third request (maybe shared)


def test_the_cli_flags_reach_the_config() -> None:
    """--change-*, --incremental-param, --cursor-field and --ignore-incremental-param."""
    args = build_parser().parse_args(
        ["--change-update", "5", "--change-insert", "2", "--change-delete", "1",
         "--change-tie", "250", "--change-every", "10", "--incremental-param", "since",
         "--cursor-field", "modified", "--ignore-incremental-param"]
    )
    config = config_from_args(args, {})
    assert config.change_batch == {"update": 5, "insert": 2, "delete": 1, "tie": 250}
    assert (config.change_every, config.incremental_param, config.cursor_field) == (
        10, "since", "modified")
    assert config.ignore_incremental_param
