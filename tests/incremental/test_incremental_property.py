"""The main property: an incremental run's output is a full sync's output of the same data.

A Hypothesis state machine changes the simulated API's data (updates, inserts, deletes,
ties at one ``updated_at``, in the very second of the last mark or later), runs the
pipeline (auto or full, some runs with changes while they read, some interrupted and
then resumed, on an API that injects 5xx faults or not), and after every clean run
compares the output with what a full sync of the same data exports, field by field.

Deletions are the one thing an incremental run cannot see: until the next full sync, a
deleted customer stays as the pipeline last saw it. The model therefore keeps those
"ghosts" (their last version seen), adds them to the data a full sync would read, and
checks that the next full sync reports exactly them as deleted.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from customer_sync.pipeline import Interrupted
from customer_sync.simulated_api import usable_id

from ..chaos_support import clean_customers, in_process_api, settings_for
from .test_incremental_sync import ChangeDuring, interrupt_after, live_records, output

pytestmark = pytest.mark.slow


def by_id(records: list[Any]) -> dict[int, list[Any]]:
    rows: dict[int, list[Any]] = {}
    for record in records:
        number = usable_id(record.get("id")) if isinstance(record, dict) else None
        if number is not None:
            rows.setdefault(number, []).append(record)
    return rows


class IncrementalSync(RuleBasedStateMachine):
    """Random changes and runs; the output always equals a full sync's."""

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="incremental-property-"))
        self.known: dict[int, list[Any]] | None = None  # the pipeline's customers, modelled
        self.uncertain = False  # a run read while data changed: versions not modelled
        self.runs = 0

    def teardown(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    @initialize(seed=st.integers(0, 5), faults=st.sampled_from([0.0, 0.2]))
    def start(self, seed: int, faults: float) -> None:
        self.api = in_process_api(customers=120, seed=seed, fault_rate=faults,
                                  fault_kinds=("5xx",))
        self.settings = settings_for(self.tmp, per_page=10, concurrency=2, max_retries=4)

    # -- changes between runs ----------------------------------------------------------
    @rule(
        wait=st.sampled_from([0, 0, 1, 90, 400]),
        update=st.integers(0, 6),
        insert=st.integers(0, 3),
        tie=st.integers(0, 25),
    )
    def change(self, wait: int, update: int, insert: int, tie: int) -> None:
        """Update, insert and tie customers (wait 0: in the very second of the mark)."""
        self.api.time.now += wait
        self.api.simulator.live.apply(update=update, insert=insert, tie=tie)

    @precondition(lambda self: not self.uncertain)
    @rule(count=st.integers(1, 3))
    def delete(self, count: int) -> None:
        """Delete customers (only while the model knows which version the pipeline has)."""
        self.api.time.now += 1
        self.api.simulator.live.apply(delete=count)

    # -- runs ------------------------------------------------------------------------
    @rule(full=st.booleans())
    def run(self, full: bool) -> None:
        """A clean run (auto or forced full) gives a full sync's output."""
        settings = self.settings.model_copy(update={"full_refresh": full})
        report = self.api.run(settings)
        self._check(report.metadata["sync"])

    @rule(at=st.integers(1, 10), update=st.integers(1, 4), tie=st.integers(0, 12))
    def run_while_data_changes(self, at: int, update: int, tie: int) -> None:
        """Data changes while a run reads: the run succeeds; the next clean one is exact."""
        moving = ChangeDuring(self.api, {at: {"update": update, "tie": tie}})
        report = self.api.run(self.settings, transport=moving)
        self._remember(report.metadata["sync"]["mode"])
        self.uncertain = True

    @rule(page=st.integers(1, 4), resume_after=st.sampled_from([0, 1, 60]),
          update=st.integers(0, 4))
    def interrupted_then_resumed(self, page: int, resume_after: int, update: int) -> None:
        """A run stopped after a page, data changing while it is stopped, then resumed."""
        try:
            self.api.run(self.settings, hook=interrupt_after(page))
        except Interrupted:
            pass
        else:  # fewer pages than that: it simply finished, cleanly
            self._remember(self._mode_of_last_run())
            return
        self.api.time.now += resume_after
        if update:
            self.api.simulator.live.apply(update=update)
        report = self.api.run(self.settings)
        # Changes made while stopped may sit on checkpointed pages: exact from the next run.
        self._remember(report.metadata["sync"]["mode"])
        self.uncertain = self.uncertain or bool(update)

    # -- the model -------------------------------------------------------------------
    def _mode_of_last_run(self) -> str:
        planned = self.api.named("sync_planned")
        return str(planned[-1]["mode"]) if planned else "full"

    def _ghosts(self, live: dict[int, list[Any]]) -> dict[int, list[Any]]:
        if self.known is None:
            return {}
        return {n: rows for n, rows in self.known.items() if n not in live}

    def _remember(self, mode: str) -> None:
        live = by_id(live_records(self.api))
        ghosts = self._ghosts(live) if mode == "incremental" else {}
        self.known = {**live, **ghosts}

    def _check(self, sync: dict[str, Any]) -> None:
        self.runs += 1
        records = live_records(self.api)
        live = by_id(records)
        if sync["mode"] == "full":
            expected = clean_customers(records)
            if self.known is not None and not self.uncertain:
                gone = sorted(set(self.known) - set(live))
                assert sync["customers"]["deleted"] == len(gone)
                assert sync["deleted_ids"] == gone[:100]
        else:
            ghosts = self._ghosts(live)
            expected = clean_customers(records + [r for rows in ghosts.values() for r in rows])
        document = output(self.tmp)
        assert document["customers"] == expected
        assert document["metadata"]["total_customers"] == len(expected)
        accounting = document["metadata"]["accounting"]
        assert accounting["records_in"] == (
            accounting["exported"]
            + accounting["duplicates_merged"]
            + accounting["rejected"]
            + accounting["replaced_by_rewalk"]
        )
        self._remember(sync["mode"])
        self.uncertain = False

    @invariant()
    def no_temp_files_are_left(self) -> None:
        state = self.tmp / ".pipeline_state" / "sync_state"
        if state.is_dir():
            assert not [p.name for p in state.iterdir() if p.name.endswith(".tmp")]
            assert len(list(state.glob("snapshot-*.parquet"))) <= 1


TestIncrementalSync = IncrementalSync.TestCase
TestIncrementalSync.settings = settings(max_examples=20, stateful_step_count=10, deadline=None)
