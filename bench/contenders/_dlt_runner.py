"""Fetch every user with dlt's ``rest_api`` source and print one JSON line of counts.

This script runs **inside the dlt venv** (``bench/.venv-dlt``), never in ours: it imports
only the standard library and dlt. The harness starts it as a subprocess, so dlt is not
a runtime dependency of the project.

There is no destination: the source is iterated directly, which runs dlt's extract
path (REST client, paginator, retries) and nothing else.

``--paginator explicit`` configures the paginator that fits reqres-shaped APIs,
``PageNumberPaginator(base_page=1, total_path="total_pages")``. ``--paginator auto``
leaves it out, so dlt picks one from the first response.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any
from urllib.parse import parse_qs, urlparse


def _retry_settings() -> dict[str, Any]:
    """dlt's HTTP retry settings as resolved in this process (defaults unless configured)."""
    from dlt.common.configuration import resolve_configuration
    from dlt.common.configuration.specs import RuntimeConfiguration
    from dlt.sources.helpers.requests.retry import DEFAULT_RETRY_EXCEPTIONS, DEFAULT_RETRY_STATUS

    config = resolve_configuration(RuntimeConfiguration())
    statuses = sorted(DEFAULT_RETRY_STATUS)
    return {
        "max_attempts": config.request_max_attempts,
        "backoff_factor": config.request_backoff_factor,
        "max_retry_delay_s": config.request_max_retry_delay,
        "timeout_s": config.request_timeout,
        "retry_statuses": f"{statuses[0]}, {statuses[1]}-{statuses[-1]}",
        "retry_exceptions": [exc.__name__ for exc in DEFAULT_RETRY_EXCEPTIONS],
        "respects_retry_after": True,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--per-page", type=int, required=True)
    parser.add_argument("--paginator", choices=("explicit", "auto"), required=True)
    args = parser.parse_args(argv)

    import dlt
    from dlt.sources.helpers.rest_client.paginators import PageNumberPaginator
    from dlt.sources.rest_api import rest_api_source

    responses: list[tuple[int | None, int]] = []  # (page asked for, status) per HTTP response

    def record_response(response: Any, *_args: Any, **_kwargs: Any) -> Any:
        page = parse_qs(urlparse(response.url).query).get("page", [None])[0]
        responses.append((int(page) if page is not None else None, response.status_code))
        return response

    client: dict[str, Any] = {"base_url": args.base_url.rstrip("/") + "/"}
    if args.paginator == "explicit":
        client["paginator"] = PageNumberPaginator(base_page=1, total_path="total_pages")
    source = rest_api_source(
        {
            "client": client,
            "resources": [
                {
                    "name": "users",
                    "endpoint": {
                        "path": "users",
                        "params": {"per_page": args.per_page},
                        "data_selector": "data",
                        "response_actions": [record_response],
                    },
                }
            ],
        }
    )

    rows: list[str] = []  # canonical JSON of each record, to count distinct ones
    error = ""
    started = time.perf_counter()
    try:
        for row in source.resources["users"]:
            rows.append(json.dumps(row, sort_keys=True, default=str))
    except Exception as exc:  # report any failure as data: this is a measurement script
        error = f"{type(exc).__name__}: {exc}"[:500]
    wall = time.perf_counter() - started

    ok_pages = [page for page, status in responses if status == 200]
    print(
        json.dumps(
            {
                "dlt_version": dlt.__version__,
                "paginator": args.paginator,
                "records": len(rows),
                "unique_records": len(set(rows)),
                "wall_seconds": wall,
                "http_responses": len(responses),
                "ok_pages": ok_pages,
                "statuses": sorted({status for _, status in responses}),
                "retry": _retry_settings(),
                "error": error,
            }
        )
    )
    return 1 if error else 0


if __name__ == "__main__":
    sys.exit(main())
