"""The hostile run of issue 11, on fake time: 3,000 customers, 30% faults of every kind,
deletions during the sync and a header-less rate limit at 60 req/s, with the defaults."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from customer_sync.logs import _LEVELS
from customer_sync.simulated_api import FAULT_KINDS

from ..chaos_support import Tap, clean_customers, in_process_api, settings_for
from ..support import read_strict


@pytest.mark.parametrize("seed", [11, 2])
def test_hostile_run_with_the_defaults_gets_every_record(seed: int, tmp_path: Path) -> None:
    """Every customer still there at the end is exported; the log stays a few warnings."""
    api = in_process_api(
        customers=3000,
        seed=seed,
        fault_rate=0.3,
        fault_kinds=FAULT_KINDS,
        drift="delete",
        drift_max_events=10,
        rate_limit=60.0,
        burst=10,
        rate_limit_headers="none",
    )
    tap = Tap(api.transport(), read_timeout=30.0)  # the simulator stalls for 20 s
    report = api.run(settings_for(tmp_path), transport=tap)
    document = read_strict(tmp_path / "sample_output.json")
    exported = {c["customer_id"] for c in document["customers"]}
    expected = {c["customer_id"] for c in clean_customers(api.final_records())}
    assert expected <= exported
    assert document["metadata"]["accounting"]["balanced"]
    assert document["metadata"]["source"]["per_page"] == 100
    served = api.stats()
    assert served["drift_events"] == 10
    assert report.stats.requests < 200
    warnings = [e for e in api.events if _LEVELS.get(e.name, logging.DEBUG) >= logging.WARNING]
    assert len(warnings) <= 30
