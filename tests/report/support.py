"""Support for the report tests: runs on fake time, the 12 real reqres users served as
reqres.in serves them (five fields only), and hand-built quality details."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import orjson

from customer_sync.pipeline import RunReport
from customer_sync.quality import RULE_FIELDS
from customer_sync.simulated_api.demo import DEMO_USERS

from ..chaos_support import in_process_api, settings_for

#: The fields reqres.in really sends.
REQRES_KEYS = ("id", "email", "first_name", "last_name", "avatar")
SCORE_BUCKETS = [f"{low}-{low + 9}" for low in range(0, 90, 10)] + ["90-100"]


def reqres_users() -> list[dict[str, Any]]:
    """The 12 public reqres users, exactly the five fields the real API sends."""
    return [
        {
            "id": user_id,
            "email": f"{first.lower()}.{last.lower()}@reqres.in",
            "first_name": first,
            "last_name": last,
            "avatar": f"https://reqres.in/img/faces/{user_id}-image.jpg",
        }
        for user_id, first, last in DEMO_USERS
    ]


def reqres_transport() -> httpx.MockTransport:
    """A reqres.in look-alike: ``GET /api/users?page=N&per_page=M``, 12 users."""
    users = reqres_users()

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        per_page = int(request.url.params.get("per_page", "6"))
        start = (page - 1) * per_page
        body = {
            "page": page,
            "per_page": per_page,
            "total": len(users),
            "total_pages": -(-len(users) // per_page),
            "data": users[start : start + per_page],
        }
        return httpx.Response(200, content=orjson.dumps(body),
                              headers={"content-type": "application/json"})

    return httpx.MockTransport(handler)


def demo_run(tmp: Path, **settings: Any) -> RunReport:
    """The demo dataset (12 users and 4 problem records) on fake time, with 5xx faults."""
    api = in_process_api(fault_rate=0.3, seed=3)
    return api.run(settings_for(tmp, per_page=6, **{"report": None, **settings}))


def reqres_run(tmp: Path, **settings: Any) -> RunReport:
    """The 12 real reqres users, as reqres.in serves them."""
    api = in_process_api()
    return api.run(
        settings_for(tmp, per_page=6, **{"report": None, **settings}),
        transport=reqres_transport(),
    )


def hand_built_quality(metadata: dict[str, Any]) -> dict[str, Any]:
    """``metadata`` plus quality details shaped like the transform's contract."""
    total = metadata["total_customers"]
    fields = {
        name: {"present": total - 1, "missing": 1 if name != "region" else 0,
               "invalid": 0 if name != "email" else 1}
        for name in RULE_FIELDS if name != "plan"
    }
    histogram = dict.fromkeys(SCORE_BUCKETS, 0)
    histogram["90-100"] = metadata["data_quality_summary"]["high_quality"]
    histogram["20-29"] = total - histogram["90-100"]
    return {
        **metadata,
        "data_quality_details": {
            "fields": fields,
            "distributions": {name: dict(metadata["summary"][name]) for name in (
                "engagement_level", "activity_status", "acquisition_channel",
                "market_segment", "customer_tier")},
            "score_histogram": histogram,
            "rejection_reasons": {"missing_id": metadata["records_rejected"]},
        },
        "source_field_coverage": {"id": 1.0, **dict.fromkeys(RULE_FIELDS, 0.9375),
                                  "region": 0.375},
        "source_field_warnings": [],
    }


def metrics(page: str) -> dict[str, str]:
    """The headline numbers a page shows, by their ``data-metric`` name."""
    return dict(re.findall(r'data-metric="([a-z_]+)">([^<]*)<', page))


def reqres_warnings() -> list[dict[str, Any]]:
    """The warnings a run of the 12 reqres users gives."""
    from customer_sync.quality import field_warnings

    coverage = {name: 1.0 if name in REQRES_KEYS else 0.0 for name in (*REQRES_KEYS,
                                                                        *RULE_FIELDS)}
    distributions = {name: {"unknown": 12} for name in (
        "engagement_level", "activity_status", "acquisition_channel", "market_segment",
        "customer_tier")}
    return [dict(w) for w in field_warnings(coverage, distributions, 12)]


def reqres_app() -> Any:
    """The reqres look-alike as an ASGI app, for the CLI on loopback."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    transport = reqres_transport()

    async def users(request: Request) -> Response:
        answer = transport.handle_request(httpx.Request("GET", str(request.url)))
        return Response(answer.content, answer.status_code, media_type="application/json")

    return Starlette(routes=[Route("/api/users", users)])
