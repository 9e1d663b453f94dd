"""The saved state of the last sync, for incremental runs: a :class:`StateStore`.

A state holds the high-water mark, the ids seen at (or after) the mark, when the last full
sync ran, and a snapshot of the current customer set: one row per customer id with every
raw field the transform reads, as the transform extracted it (text columns, which keys
were absent, and the cursor field), see ``incremental.SnapshotFrames``. It
is keyed by the source and a keyed digest of the credentials, so another tenant's state
is never merged into this one; the API key itself is never stored.

:class:`ParquetStateStore` keeps it in the state directory::

    sync_state/
      state.parquet                      one row: identity, mark, ids at the mark, the
                                         snapshot's directory, row count, dropped rows
      snapshot-<run id>/part-*.parquet   position, customer_id, the raw fields as text, ...
      snapshot-<run id>.partial/         a run's parts while it runs (or was stopped)

The run writes its snapshot's parts as it goes (``incremental.SnapshotFrames``, zstd, a
background thread, fsynced), so the snapshot holds no memory. Once the output set is in
place the pipeline saves the state: the ``.partial`` directory is renamed to its final name
(``atomic.commit_dir``), then ``state.parquet`` is replaced atomically (the switch: it
names its snapshot, lists the positions of older versions of repeated ids to drop, and
carries the output's ``run_id``), then older snapshots and leftovers are removed. A crash
anywhere leaves the old output with the old state, the new output with the old state
(safe: an older state only makes the next run fetch more, and the output is always
rebuilt from the whole snapshot), or both new; never a state naming a missing or torn
snapshot.

A database destination can hold the same state in two tables (``sync_state``,
``sync_snapshot``) and implement :class:`StateStore` inside the run's transaction.
"""

from __future__ import annotations

import contextlib
import hmac
import io
import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from .atomic import commit_dir, fsync_dir, sweep_stale_temps, write_chunks
from .checkpoint import credentials_digest
from .errors import SinkError

_PARTIAL = ".partial"

__all__ = [
    "NullStateStore",
    "ParquetStateStore",
    "StateIdentity",
    "StateStore",
    "SyncState",
]

#: 2: the snapshot holds extracted columns (1 held each record's JSON; such a state is not
#: used, and the next run is a full sync).
#: 3: the snapshot is a directory of Parquet parts (written by the run as it goes).
STATE_VERSION = 3


@dataclass(frozen=True, slots=True)
class StateIdentity:
    """What a saved state must match to be used: the masked source, the cursor contract,
    and the credentials (as a keyed digest)."""

    source: str
    incremental_param: str
    cursor_field: str
    credentials: tuple[str, ...] = field(default=(), repr=False, compare=False)

    def digest(self, salt: str) -> str:
        """The keyed digest the checkpoint uses too (``checkpoint.credentials_digest``)."""
        return credentials_digest(salt, self.credentials)


@dataclass(frozen=True, slots=True)
class SyncState:
    """The state of the last successful sync."""

    source: str
    incremental_param: str
    cursor_field: str
    salt: str  # hex
    credentials: str  # HMAC hex
    mark: datetime
    mark_source: str  # "server_date" | "local_clock"
    last_full_sync_at: datetime
    run_id: str
    ids_at_mark: tuple[int, ...]
    snapshot: Any = field(repr=False)  # pl.DataFrame: one row per customer id

    def problem_with(self, identity: StateIdentity) -> str | None:
        """Why this state cannot serve ``identity`` (never naming a secret), or ``None``."""
        if self.source != identity.source:
            return "the saved state belongs to another source"
        if (self.incremental_param, self.cursor_field) != (
            identity.incremental_param,
            identity.cursor_field,
        ):
            return "the saved state was made with another incremental_param or cursor_field"
        if not hmac.compare_digest(self.credentials, identity.digest(self.salt)):
            return "the saved state was made with other credentials"
        return None

    @staticmethod
    def new_salt() -> str:
        return secrets.token_hex(16)


class StateStore(Protocol):
    """Where the state lives: ``load`` it at the start of a run, note the run's start
    (``run_started``), ``save`` the new state once the output is in place."""

    def check_writable(self) -> None: ...

    def load(self) -> tuple[SyncState | None, str | None]:
        """The saved state, or ``None`` and why (``None`` when there simply is none)."""
        ...

    def run_started(self, scope: str, server_time: datetime) -> datetime:
        """Note when a run's first response came (kept until the next save). Returns the
        earliest such time noted for ``scope``: a run that resumes an interrupted one's
        checkpoint must not mark later than that run's start."""
        ...

    def save(self, state: SyncState) -> None:
        """Make ``state`` the saved state, atomically (after the run's output is in place)."""
        ...


class ParquetStateStore:
    """A :class:`StateStore` as Parquet files in ``directory`` (mode 0700, files 0600)."""

    def __init__(self, directory: Path, *, pending_max_age_seconds: float = 86_400.0) -> None:
        self.directory = directory
        #: An interrupted run's start older than this (the checkpoint's max age: its pages
        #: are discarded by then) no longer holds the mark back.
        self.pending_max_age_seconds = pending_max_age_seconds

    def __repr__(self) -> str:
        return f"ParquetStateStore({str(self.directory)!r})"

    @property
    def _state_path(self) -> Path:
        return self.directory / "state.parquet"

    def check_writable(self) -> None:
        existing = next(
            (p for p in (self.directory, *self.directory.parents) if p.exists()), None
        )
        if existing is None or not existing.is_dir() or not os.access(existing, os.W_OK):
            raise SinkError(
                f"state directory {str(self.directory)!r} is not writable",
                hint="fix its permissions or choose another --state-dir",
            )

    def load(self) -> tuple[SyncState | None, str | None]:
        import polars as pl

        from .incremental import Snapshot

        if not self._state_path.exists():
            return None, None
        try:
            meta = pl.read_parquet(self._state_path).row(0, named=True)
            if meta["version"] != STATE_VERSION:
                return None, "the saved state was written by another version of the pipeline"
            directory = self.directory / str(meta["snapshot"])
            parts = sorted(directory.glob("part-*.parquet"))
            if len(parts) != meta["snapshot_parts"]:
                return None, "the saved snapshot does not match its state"
            dropped = tuple(meta["snapshot_dropped"] or ())
            rows = pl.scan_parquet(parts) if parts else None
            stored = rows.select(pl.len()).collect().item() if rows is not None else 0
            if stored - len(dropped) != meta["snapshot_rows"] or rows is None:
                return None, "the saved snapshot does not match its state"
            state = SyncState(
                source=meta["source"],
                incremental_param=meta["incremental_param"],
                cursor_field=meta["cursor_field"],
                salt=meta["salt"],
                credentials=meta["credentials"],
                mark=_utc(meta["mark"]),
                mark_source=meta["mark_source"],
                last_full_sync_at=_utc(meta["last_full_sync_at"]),
                run_id=meta["run_id"],
                ids_at_mark=tuple(meta["ids_at_mark"] or ()),
                snapshot=Snapshot(rows, dropped, meta["snapshot_rows"], directory),
            )
        except (OSError, ValueError, KeyError, TypeError, IndexError, pl.exceptions.PolarsError):
            return None, "the saved state cannot be read"
        return state, None

    def spill_dir(self, run_id: str) -> Path:
        """Where a run writes its snapshot's parts as it goes; :meth:`save` adopts it."""
        return self.directory / f"snapshot-{run_id}{_PARTIAL}"

    @property
    def _pending_path(self) -> Path:
        return self.directory / "pending.json"

    def run_started(self, scope: str, server_time: datetime) -> datetime:
        try:
            pending = json.loads(self._pending_path.read_bytes())
            earlier = _utc(datetime.fromisoformat(pending["server_time"]))
            age = (server_time - earlier).total_seconds()
            if pending.get("scope") == scope and age <= self.pending_max_age_seconds:
                return min(earlier, server_time)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass
        body = json.dumps({"scope": scope, "server_time": server_time.isoformat()})
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_chunks(self._pending_path, [body.encode()], mode=0o600)
        except OSError:
            pass  # without it a resumed run marks from its own start: the lookback covers
        return server_time

    def save(self, state: SyncState) -> None:
        """Make ``state`` the saved state (see the module docstring): the snapshot's parts
        in place and fsynced (the run's spill directory, renamed; or written now), then
        ``state.parquet``, which names them, replaced atomically; then older snapshots
        and leftovers of interrupted runs are removed."""
        import polars as pl

        snapshot = state.snapshot
        final = self.directory / f"snapshot-{state.run_id}"
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            with contextlib.suppress(OSError):
                os.chmod(self.directory, 0o700)
            spilled = snapshot.directory
            if spilled is not None and spilled.name.endswith(_PARTIAL) and spilled.is_dir():
                commit_dir(spilled, final)
            elif spilled != final:
                final.mkdir(mode=0o700)
                frame = snapshot.rows.collect()
                write_chunks(final / "part-00000.parquet", _parquet(frame)(), mode=0o600)
                fsync_dir(self.directory)
            parts = len(list(final.glob("part-*.parquet")))
            meta = pl.DataFrame(
                {
                    "version": [STATE_VERSION],
                    "source": [state.source],
                    "incremental_param": [state.incremental_param],
                    "cursor_field": [state.cursor_field],
                    "salt": [state.salt],
                    "credentials": [state.credentials],
                    "mark": [state.mark],
                    "mark_source": [state.mark_source],
                    "last_full_sync_at": [state.last_full_sync_at],
                    "run_id": [state.run_id],
                    "ids_at_mark": [list(state.ids_at_mark)],
                    "snapshot": [final.name],
                    "snapshot_parts": [parts],
                    "snapshot_dropped": [list(snapshot.dropped)],
                    "snapshot_rows": [snapshot.height],
                },
                schema_overrides={
                    "ids_at_mark": pl.List(pl.Int64),
                    "snapshot_dropped": pl.List(pl.Int64),
                },
            )
            sweep_stale_temps(self._state_path)
            write_chunks(self._state_path, _parquet(meta)(), mode=0o600)
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise SinkError(
                f"cannot write the sync state in {str(self.directory)!r}: {exc}",
                hint="free some space or choose another --state-dir; the next run will "
                "fetch more, but nothing is lost",
            ) from exc
        for old in self.directory.glob("snapshot-*"):
            if old.name != final.name:
                with contextlib.suppress(OSError):
                    shutil.rmtree(old) if old.is_dir() else old.unlink()
        with contextlib.suppress(OSError):
            self._pending_path.unlink()


class NullStateStore:
    """No saved state: every run is full (``--output -`` without a ``--state-dir``)."""

    def check_writable(self) -> None:
        return None

    def load(self) -> tuple[SyncState | None, str | None]:
        return None, None

    def run_started(self, scope: str, server_time: datetime) -> datetime:
        return server_time

    def save(self, state: SyncState) -> None:
        return None


def _parquet(frame: Any) -> Callable[[], Iterable[bytes]]:
    def chunks() -> Iterable[bytes]:
        buffer = io.BytesIO()
        frame.write_parquet(buffer, compression="zstd")
        yield buffer.getvalue()

    return chunks


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
